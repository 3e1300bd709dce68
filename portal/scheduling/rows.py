"""Notice rows written in a caller's session: scheduling a notice once by its key and
a server's cancellation with the policy's warning. Below every feature package (it
imports only the tables and ``kb``), so filing a ticket (``portal.tickets.scheduled``)
and the notices package (``portal.notices.store``, which lists, cancels, reschedules
and sends them) both schedule through it without an import cycle."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.policy import Policy
from kb.policy.notices import cancellation_at, cancellation_warning_at
from portal.db.models import Contact, Notice, Server

KINDS = (
    "server_cancellation",
    "cancellation_warning",
    "plan_ending",
    "waiting_reminder",
    "maintenance",
    "incident_resolved",
)
STATES = ("scheduled", "sent", "cancelled", "void")  # void: no longer true when due


class NoticeError(ValueError):
    """What staff asked for cannot be done; the message says why."""


def schedule(
    session: Session,
    *,
    key: str,
    kind: str,
    due_at: dt.datetime,
    recipient: str,
    now: dt.datetime,
    account_id: str = "",
    server_id: str = "",
    ticket_number: str | None = None,
    incident_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Notice | None:
    """Schedule a notice once: None when one with ``key`` exists (scheduled earlier,
    or by another worker at the same moment). Runs in a savepoint of ``session``."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    if session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
        return None
    notice = Notice(
        key=key[:160],
        kind=kind,
        due_at=due_at,
        state="scheduled",
        recipient=recipient,
        account_id=account_id,
        server_id=server_id,
        ticket_number=ticket_number,
        incident_id=incident_id,
        data=data or {},
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(notice)
    except IntegrityError:
        return None
    return notice


def primary_contact(session: Session, account_id: str) -> str:
    """The account's primary contact: the first listed with the role ``primary``, else
    the first contact listed; "" when the account has none."""
    contacts = list(
        session.execute(
            select(Contact.email, Contact.role)
            .where(Contact.account_id == account_id)
            .order_by(Contact.id)
        )
    )
    for email, role in contacts:
        if role == "primary":
            return str(email)
    return str(contacts[0][0]) if contacts else ""


def schedule_warning(
    session: Session, policy: Policy, cancellation: Notice, day: dt.date, *, now: dt.datetime
) -> None:
    warn_at = cancellation_warning_at(policy, day)
    if warn_at is None or warn_at <= now:
        return  # no number in the policy, or too late to warn ahead
    session.flush()
    schedule(
        session,
        key=f"cancellation-warning:{cancellation.id}:{day.isoformat()}",
        kind="cancellation_warning",
        due_at=warn_at,
        recipient=cancellation.recipient,
        now=now,
        account_id=cancellation.account_id,
        server_id=cancellation.server_id,
        data={**cancellation.data, "cancellation": cancellation.id},
    )


@dataclass(frozen=True)
class Scheduled:
    cancellation: Notice
    warning_at: dt.datetime | None


def schedule_cancellation_in(
    session: Session,
    policy: Policy,
    account_id: str,
    server: str,
    *,
    on: dt.date | None = None,
    now: dt.datetime,
    ticket_number: str | None = None,
) -> Scheduled:
    """``portal.notices.store.schedule_cancellation`` in ``session`` (filing a request whose type
    ``schedules: cancellation`` does it in the ticket's transaction, ``ticket_number``
    its ticket). Raises LookupError or NoticeError before it writes anything."""
    row = session.scalars(
        select(Server).where(
            Server.account_id == account_id,
            (Server.server_id == server) | (Server.name == server),
        )
    ).first()
    if row is None:
        raise LookupError(f"account {account_id} has no server {server}")
    day = on or row.billing_ends
    if day is None:
        raise NoticeError(
            f"the directory has no billing period end for {row.name} (id {row.server_id}): "
            "set billing_ends in the account directory, or give a date"
        )
    existing = session.scalars(
        select(Notice).where(
            Notice.kind == "server_cancellation",
            Notice.state == "scheduled",
            Notice.account_id == account_id,
            Notice.server_id == row.server_id,
        )
    ).first()
    if existing is not None:
        raise NoticeError(
            f"{row.name} already has a cancellation scheduled (notice {existing.id}, "
            f"{existing.data.get('last_day')}): reschedule or cancel that one"
        )
    recipient = primary_contact(session, account_id)
    data = {
        "server_name": row.name,
        "server_id": row.server_id,
        "last_day": day.isoformat(),
        "end_of_billing_period": on is None or on == row.billing_ends,
    }
    notice = schedule(
        session,
        # one scheduled cancellation per server (checked above); a new one after a
        # discarded one is another notice
        key=f"cancellation:{account_id}:{row.server_id}:{secrets.token_hex(8)}",
        kind="server_cancellation",
        due_at=cancellation_at(policy, day),
        recipient=recipient,
        now=now,
        account_id=account_id,
        server_id=row.server_id,
        ticket_number=ticket_number,
        data=data,
    )
    assert notice is not None
    schedule_warning(session, policy, notice, day, now=now)
    return Scheduled(notice, cancellation_warning_at(policy, day))
