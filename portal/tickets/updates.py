"""What staff and customers change on a filed ticket: its status, a rejected emergency
claim, added information, feedback and complaints. Each change is one transaction with
the mail that reports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from kb.policy import Policy
from kb.policy.engine import (
    EMERGENCY_ACCEPTED,
    EMERGENCY_REJECTED_BY_STAFF,
    Due,
    first_response_due,
    ordinary_priority,
)
from portal import notify
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PendingRequest, Ticket, TicketEvent, Upload
from portal.helpdesk.choose import connectors_for
from portal.tickets import outbox
from portal.tickets.links import link_for_mail
from portal.tickets.states import CLOSED, EMERGENCY_LABELS, STATUS_LABELS, STATUSES
from portal.timefmt import human_time, ticket_zone
from portal.wizard.uploads import StoredFile


def set_status(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    status: str,
    note: str,
    *,
    now: dt.datetime,
) -> Ticket:
    if status not in STATUSES:
        raise ValueError(f"unknown status '{status}' (one of {', '.join(STATUSES)})")
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None:
            raise LookupError(f"no ticket {number}")
        ticket.status = status
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id, at=now, kind="status", status=status, author="staff", note=note
            )
        )
        message = notify.status_changed(
            policy,
            ticket,
            label=STATUS_LABELS[status],
            note=note,
            link=link_for_mail(settings, ticket, now),
        )
        outbox.enqueue(session, message)
        return ticket


def reject_emergency(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    note: str,
    *,
    now: dt.datetime,
) -> Ticket:
    """Staff found an accepted emergency not to be one: the claim counts toward the abuse
    rule, the ticket drops to an ordinary priority with a new due time, and the customer
    is told the policy's definition and what happens next."""
    e = policy.emergency
    with db.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.number == number).with_for_update()
        ).first()
        if ticket is None:
            raise LookupError(f"no ticket {number}")
        if ticket.emergency_outcome != EMERGENCY_ACCEPTED:
            label = EMERGENCY_LABELS.get(ticket.emergency_outcome, ticket.emergency_outcome)
            raise ValueError(f"{number} is not an accepted emergency ({label.lower()})")
        pending = session.get(PendingRequest, ticket.pending_id)
        chosen = str((pending.data if pending else {}).get("priority") or "")
        # The priority it would have had without the claim: the one the customer chose on
        # the details step if the type offers it as an ordinary priority, else the type's
        # default_priority, else its most urgent ordinary one (ordinary_priority).
        if ticket.request_type in policy.request_types:
            priority = ordinary_priority(policy, ticket.request_type, chosen)
        else:  # the type left the policy since: the most urgent ordinary priority
            reserved = e.priority if e and e.priority else next(iter(policy.priorities))
            priority = next((p for p in policy.priorities if p != reserved), ticket.priority)
        # The due time is counted again from the moment the request was filed, at that
        # priority on the plan's ordinary calendar (never the emergency one), as if it had
        # been filed without the claim: it keeps its place in the queue instead of
        # starting again. A plan that left the policy keeps the due time it had.
        due: Due | None = None
        if ticket.plan in policy.plans and priority in policy.priorities:
            due = first_response_due(policy, ticket.plan, priority, ticket.created_at)
            ticket.due_at = due.at
        ticket.priority = priority
        ticket.emergency_accepted = False
        ticket.emergency_outcome = EMERGENCY_REJECTED_BY_STAFF
        ticket.updated_at = now
        name = policy.priorities[priority].name if priority in policy.priorities else priority
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind="emergency_rejected",
                status=ticket.status,
                author="staff",
                note=f"Not an emergency; now {name} priority. {note}".strip(),
            )
        )
        if due is None or due.at is None:
            when = "There is no guaranteed time for the first response on your plan."
        else:
            zone = ticket_zone(ticket.plan_snapshot, policy.provider.timezone)
            when = (
                f"The first response is due by {human_time(due.at, zone, now=now)}"
                + (", that is now" if due.at <= now else "")
                + f": {due.describe()}."
            )
        rule = ""
        if e is not None and e.max_rejected and e.window_days:
            rule = (
                "Please mark only emergencies: after "
                f"{e.max_rejected} requests marked as emergencies within {e.window_days} "
                "days turn out not to be emergencies, the emergency mark is ignored for "
                f"{e.ignore_days or e.window_days} days, and this request counts as one."
            )
        message = notify.emergency_rejected(
            policy,
            ticket,
            note=note,
            status_label=STATUS_LABELS[ticket.status],
            priority=name,
            when=when,
            rule=rule,
            link=link_for_mail(settings, ticket, now),
        )
        outbox.enqueue(session, message)
        return ticket


def add_comment(
    db: Database,
    settings: Settings,
    number: str,
    text: str,
    *,
    now: dt.datetime,
    files: Sequence[StoredFile] = (),
) -> None:
    """The customer's added information, with the files attached to it (already stored
    and checked by ``uploads.store``): they become the ticket's attachments and the
    thread says which were attached. The caller deletes the files if this raises."""
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        if ticket.status in CLOSED:
            raise ValueError("This ticket is closed; please open a new request.")
        for stored in files:
            session.add(
                Upload(
                    id=stored.id,
                    draft_id=None,
                    ticket_id=ticket.id,
                    filename=stored.filename,
                    content_type=stored.content_type,
                    size=stored.size,
                    sha256=stored.sha256,
                    created_at=now,
                )
            )
        if files:
            attached = "Attached: " + ", ".join(f.filename for f in files)
            text = f"{text}\n\n{attached}" if text else attached
        session.add(
            TicketEvent(ticket_id=ticket.id, at=now, kind="comment", author="customer", note=text)
        )
        ticket.updated_at = now
        if ticket.status == "waiting_for_customer":
            ticket.status = "open"
        # to the helpdesk (RT: as correspondence, with the files) and the mail and
        # webhook copies
        for connector in connectors_for(settings, db):
            connector.queue_comment(session, ticket, text, files=[f.id for f in files])


def add_feedback(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    text: str,
    *,
    complaint: bool,
    now: dt.datetime,
) -> None:
    """Feedback or a complaint about a reply, routed to the supervisor address."""
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        kind = "complaint" if complaint else "feedback"
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind="feedback",
                author="customer",
                note=f"{kind}: {text}",
            )
        )
        to = policy.provider.supervisor_email or settings.helpdesk_email
        if to:
            outbox.enqueue(session, notify.feedback(to, ticket, kind=kind, text=text))
