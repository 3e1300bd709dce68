"""Finding the staff notifications that are owed and queueing them, exactly once.

Each notification is a row of ``staff_notices`` with a unique key (``new:<ticket>``,
``replied:<event>``, ``due_soon:<ticket>``, ``overdue:<ticket>``) inserted in the same
transaction as its mails: whichever worker inserts the key first sends them, any other
fails on the key and sends nothing. The running portal scans every
``SCAN_INTERVAL_SECONDS`` from the outbox loop.

Who is mailed: a new ticket and a customer's addition go to the staff (the ticket's
assignee, else every active staff member); ``PORTAL_HELPDESK_EMAIL`` hears of those at
filing and when the addition is made (``portal.tickets``). A first response due soon or
overdue goes to ``PORTAL_HELPDESK_EMAIL`` and to the staff.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import notify
from portal.alerts.due import DUE_SOON, OVERDUE, due_notices
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import StaffNotice, StaffUser, Ticket, TicketEvent
from portal.tickets import outbox
from portal.tickets.states import CLOSED
from portal.timefmt import human_time, ticket_zone

log = logging.getLogger("portal.alerts")
SCAN_INTERVAL_SECONDS = 60.0
# new tickets and additions older than this are not announced (a portal that was down
# for a long time does not flood the staff with history)
LOOKBACK = dt.timedelta(days=2)
# what counts as the first response: a staff answer or status change mailed to the customer
FIRST_RESPONSE = ("reply", "status")


@dataclass
class ScanReport:
    queued: int = 0  # notifications (each may be several mails)


def _staff(session: Session, ticket: Ticket) -> list[str]:
    """The ticket's assignee if it has an active one, else every active staff member."""
    active = list(session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.active)))
    assigned = [email for staff_id, email in active if staff_id == ticket.assigned_to]
    return assigned or [email for _, email in active]


Mails = Callable[[Session, Ticket], list[notify.Message]]


def _queue(
    db: Database, key: str, ticket_id: int, kind: str, now: dt.datetime, mails: Mails
) -> bool:
    """Insert the notice and queue its mails in one transaction; False when another
    worker (or an earlier scan) got there first."""
    try:
        with db.session() as session:
            session.add(StaffNotice(key=key, ticket_id=ticket_id, kind=kind, at=now))
            session.flush()
            ticket = session.get(Ticket, ticket_id)
            for message in mails(session, ticket) if ticket is not None else []:
                outbox.enqueue(session, message)
    except IntegrityError:
        return False
    return True


def _summary(ticket: Ticket) -> str:
    due_text = str((ticket.plan_snapshot or {}).get("first_response_text", ""))
    return notify.ticket_summary(ticket, due_text)


def _new_ticket(session: Session, ticket: Ticket) -> list[notify.Message]:
    """The helpdesk's mail of a new ticket, for each staff member."""
    summary = _summary(ticket)
    return [
        dataclasses.replace(notify.helpdesk_filed(to, ticket, summary=summary), purpose="staff-new")
        for to in _staff(session, ticket)
    ]


def _replied(text: str) -> Mails:
    """The helpdesk's mail of a customer's addition, for each staff member."""

    def mails(session: Session, ticket: Ticket) -> list[notify.Message]:
        return [
            dataclasses.replace(
                notify.customer_comment(to, ticket, text=text), purpose="staff-replied"
            )
            for to in _staff(session, ticket)
        ]

    return mails


def _due(settings: Settings, kind: str, now: dt.datetime) -> Mails:
    def mails(session: Session, ticket: Ticket) -> list[notify.Message]:
        if ticket.due_at is None:
            return []
        to = [settings.helpdesk_email] if settings.helpdesk_email else []
        to += [a for a in _staff(session, ticket) if a not in to]
        minutes = max(0, round((ticket.due_at - now).total_seconds() / 60))
        # in the customer's zone, as the customer reads it (the ticket's, else UTC)
        due = human_time(ticket.due_at, ticket_zone(ticket.plan_snapshot, "UTC"), now=now)
        summary = _summary(ticket)
        return [
            notify.staff_due(
                a, ticket, overdue=kind == OVERDUE, due=due, minutes=minutes, summary=summary
            )
            for a in to
        ]

    return mails


def _sent(session: Session, ticket_ids: set[int]) -> set[str]:
    """The notice keys already queued for these tickets."""
    ids = sorted(ticket_ids)
    keys: set[str] = set()
    for i in range(0, len(ids), 500):
        keys.update(
            session.scalars(
                select(StaffNotice.key).where(StaffNotice.ticket_id.in_(ids[i : i + 500]))
            )
        )
    return keys


def run(db: Database, settings: Settings, *, now: dt.datetime) -> ScanReport:
    """Queue every staff notification owed at ``now``."""
    report = ScanReport()
    since = now - LOOKBACK
    with db.session() as session:
        new = list(session.scalars(select(Ticket.id).where(Ticket.created_at >= since)))
        comments = list(
            session.execute(
                select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.note).where(
                    TicketEvent.kind == "comment",
                    TicketEvent.author == "customer",
                    TicketEvent.at >= since,
                )
            )
        )
        open_tickets = list(
            session.execute(
                select(Ticket.id, Ticket.due_at).where(
                    Ticket.status.not_in(CLOSED), Ticket.due_at.is_not(None)
                )
            )
        )
        answered = set(
            session.scalars(
                select(TicketEvent.ticket_id).where(
                    TicketEvent.author == "staff", TicketEvent.kind.in_(FIRST_RESPONSE)
                )
            )
        )
        candidates = set(new) | {t for _, t, _ in comments} | {t for t, _ in open_tickets}
        sent = _sent(session, candidates)
    for ticket_id in new:
        if f"new:{ticket_id}" not in sent:
            report.queued += _queue(db, f"new:{ticket_id}", ticket_id, "new", now, _new_ticket)
    for event_id, ticket_id, note in comments:
        if f"replied:{event_id}" not in sent:
            report.queued += _queue(
                db, f"replied:{event_id}", ticket_id, "replied", now, _replied(note)
            )
    for ticket_id, due_at in open_tickets:
        owed = due_notices(
            due_at,
            now,
            soon_minutes=settings.staff_due_soon_minutes,
            answered=ticket_id in answered,
            closed=False,
            sent={k for k in (DUE_SOON, OVERDUE) if f"{k}:{ticket_id}" in sent},
        )
        for kind in owed:
            report.queued += _queue(
                db, f"{kind}:{ticket_id}", ticket_id, kind, now, _due(settings, kind, now)
            )
    if report.queued:
        log.info("staff notifications queued: %s", report.queued)
    return report
