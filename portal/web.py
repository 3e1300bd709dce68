"""Small helpers every view uses: the clock, the database, settings, the policy."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.policy_store import PolicyStore


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def policy_or_none(request: Request) -> Policy | None:
    store: PolicyStore = request.app.state.policy
    return store.get()


def policy(request: Request) -> Policy:
    """The current policy; 503 when the portal has none."""
    value = policy_or_none(request)
    if value is None:
        raise HTTPException(503, "This portal has no support policy configured.")
    return value
