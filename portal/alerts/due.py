"""Which time-driven staff notifications a ticket is owed now. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

DUE_SOON, OVERDUE = "due_soon", "overdue"


def due_notices(
    due_at: dt.datetime | None,
    now: dt.datetime,
    *,
    soon_minutes: int,
    answered: bool,
    closed: bool,
    sent: Collection[str] = (),
) -> list[str]:
    """The notices to send now: ``overdue`` once the first response is due, else
    ``due_soon`` within ``soon_minutes`` of it (0: never); none for a ticket that is
    closed, already answered, without a due time, or that had that notice already. A
    ticket found only after it is overdue gets the overdue notice alone."""
    if due_at is None or answered or closed:
        return []
    if now >= due_at:
        return [] if OVERDUE in sent else [OVERDUE]
    if soon_minutes > 0 and now >= due_at - dt.timedelta(minutes=soon_minutes):
        return [] if DUE_SOON in sent else [DUE_SOON]
    return []
