"""The address ``portal serve`` serves, recorded in its database for the other verbs.

Mail that a verb sends (``portal tickets set-status``, ``notices send``, …) links to
``PORTAL_BASE_URL``; unset, the server links to the address it serves (``--host``,
``--port``), which the verb's own environment does not know. So ``portal serve``
records the base URL it links to (:func:`record`) in the ``portal_state`` row
``served_base_url`` of the database it serves, and every verb that works on that
database links there too (:func:`recorded`, ``Settings.served_at``) unless its
PORTAL_BASE_URL names an address. The same row on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PortalState

KEY = "served_base_url"
log = logging.getLogger("portal.served")


def record(db: Database, base_url: str, *, now: dt.datetime | None = None) -> None:
    """Record ``base_url`` as the address served (the last ``portal serve`` wins)."""
    at = now or dt.datetime.now(dt.UTC)
    with db.session() as session:
        row = session.get(PortalState, KEY)
        if row is None:
            session.add(PortalState(key=KEY, value=base_url, updated_at=at))
        else:
            row.value, row.updated_at = base_url, at


def recorded(settings: Settings) -> str | None:
    """The base URL ``portal serve`` recorded for the settings' database; None when
    there is none (never served, a database older than the record, or unreachable:
    the verb then reports the database as it always did). Reads only: it neither
    migrates nor creates the database."""
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return None  # the verb names the bad URL when it opens the database
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None  # not created yet (or in memory): nothing was served from it
    db = Database(settings.database_url)
    try:
        with db.sessions() as session:
            row = session.get(PortalState, KEY)
            return row.value if row is not None else None
    except SQLAlchemyError as exc:
        log.debug("no served address recorded: %s", exc)
        return None
    finally:
        db.dispose()
