"""The staff audit log: one row per staff action and sign-in attempt, written in the
transaction of what it records (``portal staff audit``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db.engine import Database
from portal.db.models import StaffAudit


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in staff member, or the command line (``id`` None)."""

    id: int | None
    email: str
    name: str
    role: str = "agent"
    client: str = ""  # a keyed hash of the client address ("" on the command line)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    now: dt.datetime,
    ticket: str | None = None,
    detail: str = "",
) -> None:
    session.add(
        StaffAudit(
            at=now,
            staff_id=actor.id,
            staff_email=actor.email,
            action=action,
            ticket_number=ticket,
            detail=detail[:2000],
            client=actor.client,
        )
    )


def entries(db: Database, *, limit: int = 50, ticket: str | None = None) -> list[StaffAudit]:
    with db.session() as session:
        query = select(StaffAudit).order_by(StaffAudit.id.desc()).limit(limit)
        if ticket:
            query = query.where(StaffAudit.ticket_number == ticket)
        return list(session.scalars(query))
