"""Scheduling, listing, cancelling and rescheduling notices. The rows themselves are
written by ``portal.scheduling.rows`` (re-exported here), which filing a ticket uses too."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from kb.policy.notices import cancellation_at
from portal.db.engine import Database
from portal.db.models import Notice
from portal.scheduling.rows import (
    KINDS,
    STATES,
    NoticeError,
    Scheduled,
    primary_contact,
    schedule,
    schedule_cancellation_in,
    schedule_warning,
)

__all__ = [
    "KINDS",
    "STATES",
    "NoticeError",
    "Scheduled",
    "cancel",
    "listing",
    "primary_contact",
    "reschedule",
    "schedule",
    "schedule_cancellation",
    "schedule_cancellation_in",
]


def listing(
    db: Database, *, state: str | None = "scheduled", kind: str | None = None, limit: int = 200
) -> list[Notice]:
    with db.session() as session:
        query = select(Notice).order_by(Notice.due_at, Notice.id).limit(limit)
        if state:
            query = query.where(Notice.state == state)
        if kind:
            query = query.where(Notice.kind == kind)
        return list(session.scalars(query))


def _scheduled(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise LookupError(f"there is no notice {notice_id}")
    if notice.state != "scheduled":
        raise NoticeError(f"notice {notice_id} is {notice.state}, not scheduled")
    return notice


def _warnings_of(session: Session, cancellation: Notice) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice).where(
                Notice.kind == "cancellation_warning",
                Notice.state == "scheduled",
                Notice.account_id == cancellation.account_id,
                Notice.server_id == cancellation.server_id,
            )
        )
    )


def cancel(db: Database, notice_id: int, *, now: dt.datetime) -> list[int]:
    """Discard a scheduled notice (a server's cancellation: with its warning). The ids
    discarded."""
    with db.session() as session:
        notice = _scheduled(session, notice_id)
        discarded = [notice, *(_warnings_of(session, notice) if _is_cancel(notice) else [])]
        for row in discarded:
            row.state, row.cancelled_at = "cancelled", now
        return [row.id for row in discarded]


def _is_cancel(notice: Notice) -> bool:
    return notice.kind == "server_cancellation"


def reschedule(
    db: Database, policy: Policy, notice_id: int, when: dt.date | dt.datetime, *, now: dt.datetime
) -> Notice:
    """Move a scheduled notice. A server's cancellation takes a day (its last day; it
    takes effect when that day ends) and its warning moves with it."""
    with db.session() as session:
        notice = _scheduled(session, notice_id)
        if _is_cancel(notice):
            day = when.date() if isinstance(when, dt.datetime) else when
            notice.due_at = cancellation_at(policy, day)
            notice.data = {**notice.data, "last_day": day.isoformat()}
            for warning in _warnings_of(session, notice):
                warning.state, warning.cancelled_at = "cancelled", now
            schedule_warning(session, policy, notice, day, now=now)
        else:
            at = when if isinstance(when, dt.datetime) else _midnight(when)
            notice.due_at = at
        return notice


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def schedule_cancellation(
    db: Database,
    policy: Policy,
    account_id: str,
    server: str,
    *,
    on: dt.date | None = None,
    now: dt.datetime,
) -> Scheduled:
    """Schedule a server's cancellation: by default at the end of its billing period
    (the only date a customer may choose), or on ``on`` (any date: staff). The primary
    contact is told when it takes effect and, when the policy gives a number of days,
    warned that many days before."""
    with db.session() as session:
        return schedule_cancellation_in(session, policy, account_id, server, on=on, now=now)
