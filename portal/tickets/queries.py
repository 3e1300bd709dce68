"""Reading tickets: one ticket with its thread, lists, the account's open tickets, the
claims found false, the audit log, and the JSON shape of a ticket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from kb.policy.engine import COUNTED_OUTCOMES
from portal.db.engine import Database
from portal.db.models import AuditEntry, Ticket, TicketEvent, Upload
from portal.tickets.states import CLOSED


@dataclass
class TicketView:
    ticket: Ticket
    events: list[TicketEvent]
    attachments: list[Upload]


def load_ticket(db: Database, number: str) -> TicketView | None:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None:
            return None
        events = list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        )
        uploads = list(session.scalars(select(Upload).where(Upload.ticket_id == ticket.id)))
        return TicketView(ticket, events, uploads)


def list_tickets(db: Database, *, status: str | None = None, limit: int = 50) -> list[Ticket]:
    with db.session() as session:
        query = select(Ticket).order_by(Ticket.created_at.desc()).limit(limit)
        if status:
            query = query.where(Ticket.status == status)
        return list(session.scalars(query))


def open_tickets_like(db: Database, account_id: str, request_type: str) -> list[Ticket]:
    """The account's open tickets of the same kind: candidates for 'add to that one'."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Ticket)
                .where(
                    Ticket.account_id == account_id,
                    Ticket.request_type == request_type,
                    Ticket.status.not_in(CLOSED),
                )
                .order_by(Ticket.created_at.desc())
                .limit(5)
            )
        )


def rejected_emergency_claims(db: Database, account_id: str) -> list[dt.datetime]:
    """When the account's claims found false were made: refused by definition or
    rejected by staff. Claims ignored under the abuse rule and claims refused because
    the plan has no emergency handling do not count (docs/policy.md)."""
    with db.session() as session:
        rows = session.scalars(
            select(Ticket.created_at).where(
                Ticket.account_id == account_id,
                Ticket.emergency_outcome.in_(COUNTED_OUTCOMES),
                # a claim attached to a known incident never counts, even when staff
                # reject it later (portal.incidents)
                Ticket.incident_id.is_(None),
            )
        )
        return list(rows)


def audit_entries(db: Database, limit: int = 50) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


def ticket_payload(ticket: Ticket, routing: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "account": ticket.account_id,
        "contact": {
            "email": ticket.contact_email,
            "name": ticket.contact_name,
            "role": ticket.contact_role,
        },
        "request_type": ticket.request_type,
        "title": ticket.title,
        "text": ticket.text,
        "plan": ticket.plan,
        "priority": ticket.priority,
        "emergency": ticket.emergency_accepted,
        "emergency_outcome": ticket.emergency_outcome,
        "coverage": {
            "status": ticket.coverage_status,
            "reason": ticket.coverage_reason,
            "estimate": ticket.estimate,
        },
        "first_response_due": ticket.due_at.isoformat() if ticket.due_at else None,
        "details": ticket.details,
        "routing": routing or {"kind": ticket.routing},
        "status": ticket.status,
    }
