"""Every staff action on a ticket, one function each, used by the console and the CLI
alike: reply, internal note, status, priority (with a reason), assign, reject the
emergency claim, confirm a waiver, forward to the upstream provider, complete or
cancel a maintenance task, merge a duplicate. Each writes the ticket's history, any
mail through the outbox and a row of the staff audit log. The actions that reuse
``portal.tickets.updates`` (status, emergency) and ``portal.tickets.waivers`` write
their audit row right after the change they report.

Errors: LookupError for an unknown ticket (or staff member), :class:`ActionError`
(a ValueError) for what cannot be done, said so that it can be fixed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from kb.policy.engine import first_response_due
from portal import notify
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Server, StaffUser, Ticket, TicketEvent, Upload
from portal.directory.servers import resolve_server, ticket_server
from portal.staff import audit
from portal.staff.audit import Actor
from portal.tickets import outbox, updates
from portal.tickets.links import link_for_mail
from portal.tickets.states import CLOSED, STATUS_LABELS, STATUSES

MAX_TEXT = 10_000
# the request types whose tickets are maintenance tasks: the policy's "maintenance"
# category (the H-Sphere reseller's backups, reboots, IPs, upgrades) and every type
# that asks for a preferred date (work scheduled for the customer)
TASK_CATEGORIES = ("maintenance",)
TASK_DETAIL = "preferred_date"

ACTIONS = (
    "reply",
    "note",
    "status",
    "priority",
    "assign",
    "reject_emergency",
    "confirm_waiver",
    "forward",
    "complete",
    "cancel",
    "merge",
)


class ActionError(ValueError):
    """An action that cannot be done on this ticket, with what to do instead."""


def is_task(policy: Policy, request_type: str) -> bool:
    rt = policy.request_types.get(request_type)
    return rt is not None and (rt.category in TASK_CATEGORIES or TASK_DETAIL in rt.details)


def answers_by_mail(settings: Settings) -> bool:
    """Whether a customer's answer to a ticket mail comes back to its ticket: the mails
    carry a signed Reply-To (``PORTAL_REPLY_ADDRESS``) and that mailbox is read
    (``PORTAL_IMAP_URL``) or posted to the inbound endpoint (``PORTAL_INBOUND_SECRET``)."""
    return bool(settings.reply_address and (settings.imap_url or settings.inbound_secret))


def _text(text: str, what: str, *, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise ActionError(f"Write the {what} first; nothing was changed.")
    if len(text) > MAX_TEXT:
        raise ActionError(f"Keep the {what} under {MAX_TEXT:,} characters.")
    return text


def _ticket(session: Session, number: str) -> Ticket:
    ticket = session.scalars(
        select(Ticket).where(Ticket.number == number.strip().upper()).with_for_update()
    ).first()
    if ticket is None:
        raise LookupError(f"no ticket {number}")
    return ticket


def _event(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    kind: str,
    note: str,
    *,
    now: dt.datetime,
    status: str | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            kind=kind,
            status=status,
            author="staff",
            note=note,
            staff_id=actor.id,
        )
    )
    ticket.updated_at = now


def reply(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    text: str,
    *,
    status: str | None = None,
    now: dt.datetime,
) -> Ticket:
    """A public answer: on the customer's status page and mailed to them; optionally
    a new status at the same time (e.g. waiting for the customer)."""
    text = _text(text, "reply")
    if status is not None and status not in STATUSES:
        raise ActionError(f"unknown status '{status}' (one of {', '.join(STATUSES)})")
    with db.session() as session:
        ticket = _ticket(session, number)
        _event(session, ticket, actor, "reply", text, now=now)
        if status is not None and status != ticket.status:
            ticket.status = status
            _event(session, ticket, actor, "status", "", now=now, status=status)
        label = STATUS_LABELS.get(ticket.status, ticket.status)
        message = notify.staff_reply(
            policy,
            ticket,
            text=text,
            author=actor.name,
            status_label=label,
            link=link_for_mail(settings, ticket, now),
            by_mail=answers_by_mail(settings),
        )
        outbox.enqueue(session, message)
        detail = f"{len(text)} characters" + (f"; status {status}" if status else "")
        audit.record(session, actor, "reply", now=now, ticket=ticket.number, detail=detail)
        return ticket


def note(db: Database, actor: Actor, number: str, text: str, *, now: dt.datetime) -> Ticket:
    """An internal note: staff only, never shown or mailed to the customer."""
    text = _text(text, "note")
    with db.session() as session:
        ticket = _ticket(session, number)
        _event(session, ticket, actor, "note", text, now=now)
        audit.record(session, actor, "note", now=now, ticket=ticket.number)
        return ticket


def set_status(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    status: str,
    note_text: str = "",
    *,
    now: dt.datetime,
) -> Ticket:
    """The status, with a note for the customer (``portal.tickets.updates``)."""
    note_text = _text(note_text, "note", required=False)
    ticket = updates.set_status(db, policy, settings, number, status, note_text, now=now)
    with db.session() as session:
        audit.record(session, actor, "status", now=now, ticket=ticket.number, detail=status)
    return ticket


def set_priority(
    db: Database,
    policy: Policy,
    actor: Actor,
    number: str,
    priority: str,
    reason: str,
    *,
    now: dt.datetime,
) -> Ticket:
    """Another priority, with the reason (shown to the customer); the first response is
    due again as if filed at that priority (same moment of filing, the plan's hours)."""
    reason = _text(reason, "reason for the change")
    if priority not in policy.priorities:
        raise ActionError(f"unknown priority '{priority}' (one of {', '.join(policy.priorities)})")
    with db.session() as session:
        ticket = _ticket(session, number)
        if ticket.priority == priority:
            raise ActionError(f"{ticket.number} already has priority {priority}")
        before = ticket.priority
        ticket.priority = priority
        if ticket.plan in policy.plans:
            due = first_response_due(
                policy,
                ticket.plan,
                priority,
                ticket.created_at,
                emergency=ticket.emergency_accepted,
            )
            ticket.due_at = due.at
        name = policy.priorities[priority].name
        _event(session, ticket, actor, "priority", f"Now {name} priority. {reason}", now=now)
        audit.record(
            session,
            actor,
            "priority",
            now=now,
            ticket=ticket.number,
            detail=f"{before} -> {priority}",
        )
        return ticket


def assign(db: Database, actor: Actor, number: str, to: str | None, *, now: dt.datetime) -> Ticket:
    """Assign to an active staff member (by e-mail address), or to nobody (None/"")."""
    with db.session() as session:
        ticket = _ticket(session, number)
        staff: StaffUser | None = None
        if to:
            staff = session.scalars(
                select(StaffUser).where(StaffUser.email == to.strip().lower())
            ).first()
            if staff is None or not staff.active:
                raise ActionError(f"no active staff member {to}")
        ticket.assigned_to = staff.id if staff else None
        who = f"{staff.name} <{staff.email}>" if staff else "nobody"
        _event(session, ticket, actor, "assigned", f"Assigned to {who}.", now=now)
        audit.record(session, actor, "assign", now=now, ticket=ticket.number, detail=who)
        return ticket


def reject_emergency(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    note_text: str,
    *,
    now: dt.datetime,
) -> Ticket:
    """Not an emergency (``portal.tickets.updates.reject_emergency``): counted for the
    abuse rule, the customer is mailed the policy's definition."""
    note_text = _text(note_text, "note for the customer")
    ticket = updates.reject_emergency(db, policy, settings, number, note_text, now=now)
    with db.session() as session:
        audit.record(session, actor, "reject_emergency", now=now, ticket=ticket.number)
    return ticket


def confirm_waiver(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    *,
    waiver_id: str | None = None,
    note_text: str = "",
    now: dt.datetime,
) -> Ticket:
    """Confirm a waiver the customer claimed (``portal.tickets.waivers``)."""
    from portal.tickets import waivers

    note_text = _text(note_text, "note", required=False)
    try:
        ticket = waivers.confirm_waiver(
            db,
            policy,
            settings,
            number,
            waiver_id=waiver_id or None,
            note=note_text,
            by=actor.email,
            now=now,
        )
    except waivers.WaiverError as exc:
        raise ActionError(str(exc)) from exc
    with db.session() as session:
        audit.record(
            session, actor, "confirm_waiver", now=now, ticket=ticket.number, detail=waiver_id or ""
        )
    return ticket


def ticket_server_of(session: Session, ticket: Ticket) -> tuple[str, str, str] | None:
    """(name, id, owner) of the account's server the ticket is about, if it names one."""
    servers = [
        (s.name, s.server_id, s.owner)
        for s in session.scalars(select(Server).where(Server.account_id == ticket.account_id))
    ]
    recorded = ticket_server(ticket.details or {})
    if recorded is not None:
        owner = next((o for _n, i, o in servers if i == recorded[1]), "")
        return recorded[0], recorded[1], owner
    found = resolve_server(servers, " ".join(str(v) for v in (ticket.details or {}).values()))
    if found.server is None:
        return None
    return found.server.name, found.server.server_id, found.server.owner


def forward(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    note_text: str = "",
    *,
    now: dt.datetime,
) -> Ticket:
    """Send the request to the upstream provider (``PORTAL_UPSTREAM_EMAIL``) with the
    server's name and id; internal (the customer is not mailed)."""
    note_text = _text(note_text, "note", required=False)
    if not settings.upstream_email:
        raise ActionError("PORTAL_UPSTREAM_EMAIL is not set: there is no upstream address.")
    with db.session() as session:
        ticket = _ticket(session, number)
        server = ticket_server_of(session, ticket)
        if server is None:
            raise ActionError(
                f"{ticket.number} names none of the account's servers; add a note with the "
                "server and forward it by mail yourself, or ask the customer which one."
            )
        name, server_id, _owner = server
        summary = notify.ticket_summary(ticket, "", provider_zone=policy.provider.timezone)
        if note_text:
            summary += f"\n\nNote from {policy.provider.name}: {note_text}"
        message = notify.upstream(
            settings.upstream_email, ticket, server=name, server_id=server_id, summary=summary
        )
        outbox.enqueue(session, message)
        ticket.routing = "upstream"
        detail = f"Forwarded to {settings.upstream_email}: {name} (id {server_id}). {note_text}"
        _event(session, ticket, actor, "forwarded", detail.strip(), now=now)
        audit.record(session, actor, "forward", now=now, ticket=ticket.number, detail=name)
        return ticket


def finish_task(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    *,
    done: bool,
    note_text: str,
    now: dt.datetime,
) -> Ticket:
    """Mark a maintenance task complete (``done``) or cancel it, with a note; the
    customer is mailed either way."""
    note_text = _text(note_text, "note for the customer", required=not done)
    status = "completed" if done else "cancelled"
    with db.session() as session:
        ticket = _ticket(session, number)
        if not is_task(policy, ticket.request_type):
            raise ActionError(
                f"{ticket.number} is not a maintenance task ({ticket.request_type}); "
                "change its status instead."
            )
        if ticket.status in CLOSED:
            raise ActionError(f"{ticket.number} is already {ticket.status}")
        ticket.status = status
        _event(session, ticket, actor, "status", note_text, now=now, status=status)
        message = notify.task_done(
            policy, ticket, done=done, note=note_text, link=link_for_mail(settings, ticket, now)
        )
        outbox.enqueue(session, message)
        audit.record(
            session, actor, "complete" if done else "cancel", now=now, ticket=ticket.number
        )
        return ticket


def merge(
    db: Database,
    policy: Policy,
    settings: Settings,
    actor: Actor,
    number: str,
    into: str,
    note_text: str = "",
    *,
    now: dt.datetime,
) -> Ticket:
    """Merge a duplicate into another open ticket of the same account: the duplicate is
    closed (cancelled, ``merged_into``), its words and attachments join the other
    ticket's thread, and its contact is mailed where to follow it. Returns the ticket
    merged into."""
    note_text = _text(note_text, "note", required=False)
    if number.strip().upper() == into.strip().upper():
        raise ActionError("A ticket cannot be merged into itself.")
    with db.session() as session:
        source = _ticket(session, number)
        target = _ticket(session, into)
        if source.account_id != target.account_id:
            raise ActionError(
                f"{target.number} belongs to another account ({target.account_id}); only "
                f"tickets of {source.account_id} can be merged."
            )
        if source.merged_into:
            raise ActionError(f"{source.number} was already merged into {source.merged_into}")
        if target.status in CLOSED:
            raise ActionError(f"{target.number} is {target.status}; merge into an open ticket")
        source.merged_into = target.number
        source.status = "cancelled"
        words = f"Merged into {target.number}. {note_text}".strip()
        _event(session, source, actor, "merged", words, now=now, status="cancelled")
        _event(
            session,
            target,
            actor,
            "merged",
            f"Merged from {source.number} ({source.title}): {source.text}",
            now=now,
        )
        for upload in session.scalars(select(Upload).where(Upload.ticket_id == source.id)):
            upload.ticket_id = target.id
        message = notify.ticket_merged(
            policy,
            source,
            into=target.number,
            note=note_text,
            link=link_for_mail(settings, source, now),
        )
        outbox.enqueue(session, message)
        audit.record(
            session, actor, "merge", now=now, ticket=source.number, detail=f"into {target.number}"
        )
        return target
