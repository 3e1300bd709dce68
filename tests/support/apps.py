"""The portal app with the demo account directory, its lifespan running."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.directory import importer as accounts
from tests.support.paths import EXAMPLES


@contextmanager
def running_portal(settings: Settings, *, run_outbox: bool = True) -> Iterator[Starlette]:
    """``create_app(settings)`` with its lifespan running (migrations and, with
    ``run_outbox``, the outbox worker) and examples/accounts.yaml imported."""
    app = create_app(settings, run_outbox=run_outbox)
    with TestClient(app):
        policy = app.state.policy.get()
        report = accounts.import_file(app.state.db, policy, EXAMPLES / "accounts.yaml")
        assert not report.errors, report.errors
        yield app
