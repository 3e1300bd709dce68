"""A signed-in contact's requests ("my requests"): their own, or every request of the
account for the roles the policy lets ask about the whole account.

Which roles see every request of the account: ``contacts.restricted_roles`` (the
roles that may ask for restricted actions, e.g. changing the account's contacts),
who already may have a status link to any ticket of the account mailed to them
(``portal.tickets.links.request_status_link``). Everyone else sees the tickets they
filed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket, TicketEvent
from portal.directory.importer import Sender
from portal.tickets import links

MAX_ROWS = 200


def sees_account(policy: Policy, sender: Sender) -> bool:
    """Whether this contact sees every request of the account (pure)."""
    return sender.role in policy.contacts.restricted_roles


def may_see(policy: Policy, sender: Sender, account_id: str, contact_email: str) -> bool:
    """Whether this contact may see a ticket of ``account_id`` filed by
    ``contact_email`` (pure)."""
    if account_id != sender.account_id:
        return False
    return sees_account(policy, sender) or contact_email.lower() == sender.email.lower()


@dataclass(frozen=True)
class Row:
    number: str
    title: str
    status: str
    priority: str
    contact_name: str
    contact_email: str
    due_at: dt.datetime | None
    answered_at: dt.datetime | None  # the first staff reply
    updated_at: dt.datetime
    created_at: dt.datetime
    tz: str


def requests_of(db: Database, policy: Policy, sender: Sender) -> list[Row]:
    """The tickets this contact may see, newest update first."""
    answered = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.at).label("at"))
        .where(TicketEvent.kind == "reply")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    query = (
        select(Ticket, answered.c.at)
        .outerjoin(answered, answered.c.ticket_id == Ticket.id)
        .where(Ticket.account_id == sender.account_id)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(MAX_ROWS)
    )
    if not sees_account(policy, sender):
        query = query.where(func.lower(Ticket.contact_email) == sender.email.lower())
    with db.session() as session:
        rows = session.execute(query).all()
        return [
            Row(
                number=t.number,
                title=t.title,
                status=t.status,
                priority=t.priority,
                contact_name=t.contact_name,
                contact_email=t.contact_email,
                due_at=t.due_at,
                answered_at=_aware(at),
                updated_at=t.updated_at,
                created_at=t.created_at,
                tz=str((t.plan_snapshot or {}).get("tz") or policy.provider.timezone),
            )
            for t, at in rows
        ]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A moment from an aggregate (SQLite returns it without its zone: stored UTC)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def ticket_token(
    db: Database, policy: Policy, settings: Settings, sender: Sender, number: str
) -> str | None:
    """The ticket's current status token for a signed-in contact who may see it (the
    one its confirmation mail carries, made again: no new link is issued), else None."""
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None or not may_see(policy, sender, ticket.account_id, ticket.contact_email):
            return None
        if ticket.status_link_issued_at is None:  # filed before links were versioned
            ticket.status_link_issued_at = dt.datetime.now(dt.UTC)
        return links.status_token(settings, ticket)
