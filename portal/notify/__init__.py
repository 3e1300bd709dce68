"""Every e-mail the portal sends: one function per message.

Each function gathers what its message says and renders the subject and the text
from ``templates/email/<name>.subject.txt`` and ``<name>.body.txt`` (plain text: no
HTML escaping; the transport flattens headers to one line). A :class:`Message` is
queued in the outbox by the caller, in the transaction of the change it reports, so
nothing acknowledged is lost (``portal.tickets.outbox``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from kb.paths import DEFAULT_TEMPLATES
from portal import timefilters
from portal.notify.text import one_line
from portal.timefmt import human_time, ticket_zone

if TYPE_CHECKING:
    from kb.policy import Policy
    from portal.db.models import Ticket

TEMPLATES = DEFAULT_TEMPLATES / "email"
NAMES = (
    "signin",
    "verify",
    "role_refused",
    "filed",
    "helpdesk_filed",
    "upstream",
    "status_changed",
    "helpdesk_reply",
    "emergency_rejected",
    "status_link",
    "customer_comment",
    "feedback",
    "staff_reply",
    "task_done",
    "ticket_merged",
    "mailin_refused",
    "mailin_closed",
    "mailin_attachments",
    "staff_due",
    "staff_locked",
    "waiver_confirmed",
)


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    purpose: str  # what the outbox row is for, e.g. "verify", "confirmation"
    ticket: str | None = None


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # noqa: S701 - plain-text mail, never HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["one_line"] = one_line
    timefilters.register(env)  # |when(zone), |detail_time(kind, zone)
    return env


def render(template: str, /, **context: Any) -> tuple[str, str]:
    """(subject, body) of the message ``template``."""
    env = _environment()
    subject = env.get_template(f"{template}.subject.txt").render(**context)
    body = env.get_template(f"{template}.body.txt").render(**context)
    return one_line(subject, 300), body


def _message(
    template: str, to: str, purpose: str, number: str | None, /, **context: Any
) -> Message:
    subject, body = render(template, **context)
    return Message(to=to, subject=subject, body=body, purpose=purpose, ticket=number)


QUOTE_WORDS = "priced on request: you get a quote before any work starts"


def coverage_words(ticket: Ticket) -> str:
    """The ticket's coverage verdict in words, from what filing (or a confirmed waiver)
    stored: included (or waived), paid (at the accepted estimate, which the mails give on
    its own line), priced on request, or not offered."""
    status = ticket.coverage_status
    if status == "included":
        return ticket.coverage_reason if ticket.waiver_confirmed else "included"
    if status == "paid":
        return "paid" if ticket.estimate else QUOTE_WORDS  # the estimate has its line
    return "not offered"


def _opens_text(ticket: Ticket, provider_zone: str = "UTC") -> str:
    """When support next opened after filing (stored for plans that promise no time),
    in the customer's time zone: "Mon 30 Nov, 09:00 (Europe/Berlin)"; "" if unknown."""
    snapshot = ticket.plan_snapshot or {}
    value = snapshot.get("support_opens_at")
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return ""
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return human_time(moment, ticket_zone(snapshot, provider_zone), now=ticket.created_at)


def ticket_summary(ticket: Ticket, due_text: str, *, provider_zone: str = "UTC") -> str:
    """The ticket in a few lines, as staff, the customer and the upstream provider see it:
    the coverage in words, the waivers claimed, and the first response (the due time, or
    the policy's own words and when support next opens)."""
    template = _environment().get_template("ticket_summary.txt")
    claimed = [w["text"] for w in ticket.waivers_claimed or []]
    return template.render(
        ticket=ticket,
        due_text=due_text,
        coverage=coverage_words(ticket),
        claimed=claimed,
        treated_as="paid work" if ticket.estimate else "a request for a quote",
        opens_text=_opens_text(ticket, provider_zone),
        # times in the customer's zone (the ticket's, else the provider's)
        zone=ticket_zone(ticket.plan_snapshot, provider_zone),
    ).rstrip("\n")


# --- before filing ---------------------------------------------------------------------


def signin(
    policy: Policy, *, to: str, name: str | None, code: str, link: str, minutes: int
) -> Message:
    """The sign-in code and one-click link (rendered for every address asked for;
    queued only for a listed contact)."""
    return _message(
        "signin",
        to,
        "signin",
        None,
        name=name,
        code=code,
        link=link,
        minutes=minutes,
        provider=policy.provider.name,
    )


def verify(
    policy: Policy,
    *,
    to: str,
    name: str | None,
    account: str,
    title: str,
    text: str,
    link: str,
    minutes: int,
) -> Message:
    """The filing link for a reviewed request (rendered for every sender; queued only
    for a listed contact)."""
    return _message(
        "verify",
        to,
        "verify",
        None,
        name=name,
        account=account,
        title=title,
        text=text,
        link=link,
        minutes=minutes,
        provider=policy.provider.name,
    )


def role_refused(
    policy: Policy, *, to: str, name: str, account: str, title: str, roles: str
) -> Message:
    """A listed contact asked for something only other roles may ask for."""
    return _message(
        "role_refused",
        to,
        "role-refused",
        None,
        name=name,
        account=account,
        title=title,
        roles=roles,
        provider=policy.provider.name,
    )


# --- a ticket is filed -----------------------------------------------------------------


def filed(policy: Policy, ticket: Ticket, *, summary: str, link: str) -> Message:
    """The customer's confirmation, with the ticket's status link."""
    return _message(
        "filed",
        ticket.contact_email,
        "confirmation",
        ticket.number,
        ticket=ticket,
        summary=summary,
        link=link,
        provider=policy.provider.name,
    )


def helpdesk_filed(to: str, ticket: Ticket, *, summary: str) -> Message:
    """A new ticket for the support mailbox (``PORTAL_HELPDESK_EMAIL``)."""
    return _message("helpdesk_filed", to, "helpdesk", ticket.number, ticket=ticket, summary=summary)


def supervisor_filed(to: str, ticket: Ticket, *, summary: str) -> Message:
    """A request the policy routes to the supervisor (``provider.supervisor_email``),
    e.g. a complaint: the same text as the helpdesk's copy, to the supervisor only."""
    return _message(
        "helpdesk_filed", to, "supervisor", ticket.number, ticket=ticket, summary=summary
    )


def upstream(to: str, ticket: Ticket, *, server: str, server_id: str, summary: str) -> Message:
    """A request about a server the upstream provider hosts, with its name and id."""
    return _message(
        "upstream",
        to,
        "upstream",
        ticket.number,
        ticket=ticket,
        server=server,
        server_id=server_id,
        summary=summary,
    )


# --- after filing ----------------------------------------------------------------------


def status_changed(policy: Policy, ticket: Ticket, *, label: str, note: str, link: str) -> Message:
    return _message(
        "status_changed",
        ticket.contact_email,
        "status",
        ticket.number,
        ticket=ticket,
        label=label,
        note=note,
        link=link,
        provider=policy.provider.name,
    )


def helpdesk_reply(policy: Policy, ticket: Ticket, *, text: str, link: str) -> Message:
    """Staff answered in the external helpdesk (e.g. RT's public correspondence)."""
    return _message(
        "helpdesk_reply",
        ticket.contact_email,
        "reply",
        ticket.number,
        ticket=ticket,
        text=text,
        link=link,
        provider=policy.provider.name,
    )


def emergency_rejected(
    policy: Policy,
    ticket: Ticket,
    *,
    note: str,
    status_label: str,
    priority: str,
    when: str,
    rule: str,
    link: str,
) -> Message:
    """Staff found an accepted emergency not to be one: the policy's definition, what
    happens next and the abuse rule."""
    definition = policy.emergency.definition if policy.emergency is not None else ""
    return _message(
        "emergency_rejected",
        ticket.contact_email,
        "emergency-rejected",
        ticket.number,
        ticket=ticket,
        definition=definition,
        note=note,
        status_label=status_label,
        priority=priority,
        when=when,
        rule=rule,
        link=link,
        provider=policy.provider.name,
    )


def status_link(
    policy: Policy, ticket: Ticket, *, to: str, name: str, link: str, lifetime: str
) -> Message:
    """A new status link, asked for by a listed contact (older links stop working)."""
    return _message(
        "status_link",
        to,
        "status-link",
        ticket.number,
        ticket=ticket,
        name=name,
        link=link,
        lifetime=lifetime,
        provider=policy.provider.name,
    )


def customer_comment(to: str, ticket: Ticket, *, text: str) -> Message:
    """The customer added information: for the support mailbox."""
    return _message("customer_comment", to, "comment", ticket.number, ticket=ticket, text=text)


def feedback(to: str, ticket: Ticket, *, kind: str, text: str) -> Message:
    """Feedback or a complaint about a reply, for the supervisor address."""
    return _message("feedback", to, kind, ticket.number, ticket=ticket, kind=kind, text=text)


def waiver_confirmed(
    policy: Policy,
    ticket: Ticket,
    *,
    waiver: str,
    estimate: str | None,
    note: str,
    link: str,
) -> Message:
    """Staff confirmed a waiver: the request is included, no charge applies."""
    return _message(
        "waiver_confirmed",
        ticket.contact_email,
        "waiver",
        ticket.number,
        ticket=ticket,
        waiver=waiver,
        estimate=estimate,
        note=note,
        link=link,
        provider=policy.provider.name,
    )


# --- mail in and staff notifications (portal.mailin, portal.alerts) ----------------------


def mailin_refused(to: str, number: str, *, provider: str) -> Message:
    """A mail about a ticket from an address that is not a listed contact of its
    account: nothing was added (it says nothing about the ticket beyond its number)."""
    return _message(
        "mailin_refused", to, "mailin-refused", number, number=number, address=to, provider=provider
    )


def mailin_closed(
    ticket: Ticket, *, to: str, name: str, status: str, link: str, provider: str
) -> Message:
    """A listed contact answered a closed ticket: nothing was added; open a new request."""
    return _message(
        "mailin_closed",
        to,
        "mailin-closed",
        ticket.number,
        number=ticket.number,
        name=name,
        title=ticket.title,
        status=status,
        link=link,
        provider=provider,
    )


def mailin_attachments(
    ticket: Ticket,
    *,
    to: str,
    name: str,
    refused: list[tuple[str, str]],
    limit: str,
    provider: str,
) -> Message:
    """A mail was added to its ticket, but some attachments were not: which and why."""
    return _message(
        "mailin_attachments",
        to,
        "mailin-attachments",
        ticket.number,
        number=ticket.number,
        name=name,
        title=ticket.title,
        refused=refused,
        limit=limit,
        provider=provider,
    )


def staff_due(
    to: str, ticket: Ticket, *, overdue: bool, due: str, minutes: int, summary: str
) -> Message:
    """For staff: a ticket's first response is due soon, or overdue, and nobody has
    answered yet."""
    return _message(
        "staff_due",
        to,
        "staff-overdue" if overdue else "staff-due-soon",
        ticket.number,
        ticket=ticket,
        overdue=overdue,
        due=due,
        minutes=minutes,
        summary=summary,
    )


# --- the staff console (#15) -----------------------------------------------------------


def staff_reply(
    policy: Policy,
    ticket: Ticket,
    *,
    text: str,
    author: str,
    status_label: str,
    link: str,
    by_mail: bool = False,
) -> Message:
    """A staff answer to the customer (also on the ticket's status page); ``by_mail``:
    the mail says they may answer it (mail in is set up)."""
    return _message(
        "staff_reply",
        ticket.contact_email,
        "reply",
        ticket.number,
        ticket=ticket,
        text=text,
        author=author,
        status_label=status_label,
        link=link,
        provider=policy.provider.name,
        by_mail=by_mail,
    )


def task_done(policy: Policy, ticket: Ticket, *, done: bool, note: str, link: str) -> Message:
    """A maintenance task (a backup, a reboot, …) was completed or cancelled."""
    return _message(
        "task_done",
        ticket.contact_email,
        "task-completed" if done else "task-cancelled",
        ticket.number,
        ticket=ticket,
        done=done,
        note=note,
        link=link,
        provider=policy.provider.name,
    )


def ticket_merged(policy: Policy, ticket: Ticket, *, into: str, note: str, link: str) -> Message:
    """A duplicate request was merged into another ticket of the account."""
    return _message(
        "ticket_merged",
        ticket.contact_email,
        "merged",
        ticket.number,
        ticket=ticket,
        into=into,
        note=note,
        link=link,
        provider=policy.provider.name,
    )


def staff_locked(
    to: str, *, name: str, until: dt.datetime, failures: int, zone: str = "UTC"
) -> Message:
    """To a staff member whose sign-in was just locked: the sign-in page answers a locked
    account like a wrong password, so this mail is how its owner learns of it. ``until``
    is written for people in ``zone`` (the lock lasts minutes: no year)."""
    return _message(
        "staff_locked",
        to,
        "staff-locked",
        None,
        name=name,
        until=human_time(until, zone, now=until),
        failures=failures,
    )
