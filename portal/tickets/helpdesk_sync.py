"""Back from an external helpdesk (``portal.helpdesk``): its changes since the cursor
become the portal's.

A status change there sets the ticket's status (``states.helpdesk_status``)
and mails the customer as a status change in the portal does; public correspondence
becomes a ``reply`` event on the status page and a mail to the customer. Internal
comments are never read. The changes and the moved cursor are one transaction, and the
cursor moves only from where this worker read it, so each change is applied once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal import notify
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket, TicketEvent
from portal.helpdesk.base import Change, ExternalHelpdesk, advance_cursor
from portal.tickets import outbox
from portal.tickets.links import link_for_mail
from portal.tickets.states import STATUS_LABELS, helpdesk_status

log = logging.getLogger("portal.helpdesk.sync")


@dataclass
class SyncReport:
    statuses: int = 0
    replies: int = 0
    skipped: bool = False  # another worker read the same changes first


class _Lost(Exception):
    """Another worker moved the cursor: roll this transaction back."""


def poll(
    db: Database,
    policy: Policy,
    settings: Settings,
    helpdesk: ExternalHelpdesk,
    *,
    now: dt.datetime | None = None,
) -> SyncReport:
    """Read the helpdesk's changes since the cursor and apply them."""
    now = now or dt.datetime.now(dt.UTC)
    report = SyncReport()
    cursor = helpdesk.read_cursor()
    if cursor is None:
        helpdesk.start_cursor()
        return report
    changes, new_cursor = helpdesk.changes_since(cursor, functools.partial(_known, db))
    try:
        with db.session() as session:
            if not advance_cursor(session, helpdesk.cursor_name, cursor, new_cursor):
                raise _Lost
            for change in changes:
                _apply(session, policy, settings, helpdesk.name, change, now, report)
    except _Lost:
        return SyncReport(skipped=True)
    if report.statuses or report.replies:
        log.info(
            "helpdesk %s: %s status changes, %s replies",
            helpdesk.name,
            report.statuses,
            report.replies,
        )
    return report


def _known(db: Database, external_id: str) -> bool:
    with db.session() as session:
        return (
            session.scalars(select(Ticket.id).where(Ticket.helpdesk_id == external_id)).first()
            is not None
        )


def _apply(
    session: Session,
    policy: Policy,
    settings: Settings,
    helpdesk: str,
    change: Change,
    now: dt.datetime,
    report: SyncReport,
) -> None:
    ticket = session.scalars(select(Ticket).where(Ticket.helpdesk_id == change.external_id)).first()
    if ticket is None:
        return
    at = change.at or now
    if change.kind == "status":
        status = helpdesk_status(helpdesk, change.status)
        if status is None or status == ticket.status:
            return
        ticket.status = status
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at,
                kind="status",
                status=status,
                author="staff",
                note="",
            )
        )
        message = notify.status_changed(
            policy,
            ticket,
            label=STATUS_LABELS[status],
            note="",
            link=link_for_mail(settings, ticket, now),
        )
        outbox.enqueue(session, message)
        report.statuses += 1
    elif change.kind == "reply":
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at,
                kind="reply",
                status=ticket.status,
                author="staff",
                note=change.text,
            )
        )
        message = notify.helpdesk_reply(
            policy, ticket, text=change.text, link=link_for_mail(settings, ticket, now)
        )
        outbox.enqueue(session, message)
        report.replies += 1
