"""Every e-mail the portal sends: one function per message.

Each function gathers what its message says and renders the subject and the text
from ``templates/email/<name>.subject.txt`` and ``<name>.body.txt`` (plain text: no
HTML escaping; the transport flattens headers to one line). A :class:`Message` is
queued in the outbox by the caller, in the transaction of the change it reports, so
nothing acknowledged is lost (``portal.tickets.outbox``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from kb.paths import DEFAULT_TEMPLATES
from portal.notify.text import one_line

if TYPE_CHECKING:
    from kb.policy import Policy
    from portal.db.models import Ticket

TEMPLATES = DEFAULT_TEMPLATES / "email"
NAMES = (
    "verify",
    "role_refused",
    "filed",
    "helpdesk_filed",
    "upstream",
    "status_changed",
    "emergency_rejected",
    "status_link",
    "customer_comment",
    "feedback",
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


def ticket_summary(ticket: Ticket, due_text: str) -> str:
    """The ticket in a few lines, as staff, the customer and the upstream provider see it."""
    template = _environment().get_template("ticket_summary.txt")
    return template.render(ticket=ticket, due_text=due_text).rstrip("\n")


# --- before filing ---------------------------------------------------------------------


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
