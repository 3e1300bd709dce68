"""Sending due notices, each exactly once.

A worker claims due rows and, in the same transaction, queues each one's mail in the
outbox and marks it sent: a worker killed at any point leaves both or neither, so the
notice is sent by the next drain, never twice. On PostgreSQL several workers claim at
once with ``SELECT … FOR UPDATE SKIP LOCKED`` (each takes rows the others have not
locked); on SQLite every transaction begins with ``BEGIN IMMEDIATE``
(``portal.db.engine``), so one worker drains at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Notice
from portal.notices.mail import compose
from portal.tickets import outbox

log = logging.getLogger("portal.notices")
BATCH = 20


@dataclass
class DrainReport:
    sent: int = 0
    void: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.void


def drain(
    db: Database,
    policy: Policy,
    settings: Settings,
    *,
    now: dt.datetime,
    limit: int = BATCH,
    claimed: Callable[[Notice], None] | None = None,
) -> DrainReport:
    """Send the notices due at ``now`` (at most ``limit``, oldest first). ``claimed``
    is called with each row while it is locked, before the transaction commits."""
    report = DrainReport()
    with db.session() as session:
        query = (
            select(Notice)
            .where(Notice.state == "scheduled", Notice.due_at <= now)
            .order_by(Notice.due_at, Notice.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for notice in session.scalars(query).all():
            message = compose(session, policy, settings, notice, now)
            if message is None:
                notice.state = "void"
                report.void += 1
            else:
                outbox.enqueue(session, message)
                notice.state = "sent"
                report.sent += 1
            notice.sent_at = now
            if claimed is not None:
                claimed(notice)
    return report


def drain_all(
    db: Database, policy: Policy, settings: Settings, *, now: dt.datetime, batches: int = 50
) -> DrainReport:
    """Drain in batches until nothing is due (or ``batches`` batches were sent)."""
    total = DrainReport()
    for _ in range(batches):
        report = drain(db, policy, settings, now=now)
        total.sent += report.sent
        total.void += report.void
        if report.done < BATCH:
            break
    return total
