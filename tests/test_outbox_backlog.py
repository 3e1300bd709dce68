"""A backlog drains without waiting: after a full delivery round the outbox worker goes
on at once instead of sleeping until the next poll (found by bench/load.py: 400 queued
mails took 45 s at 50 per poll)."""

from __future__ import annotations

import dataclasses
import time

import pytest

import portal.app
from portal.config import Settings
from portal.db.engine import Database
from portal.notify import Message
from portal.tickets import outbox
from tests.support.apps import running_portal
from tests.support.mail import MailServer

QUEUED = 2 * portal.app.OUTBOX_BATCH + 20


def test_a_backlog_larger_than_one_round_is_delivered_without_waiting_for_the_poll(
    demo_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a poll far longer than the test waits: only going on at once can deliver it all
    monkeypatch.setattr(portal.app, "OUTBOX_POLL_SECONDS", 120.0)
    var = tmp_path_factory.mktemp("backlog")
    server = MailServer().start()
    try:
        settings = dataclasses.replace(
            demo_settings, database_url=f"sqlite:///{var}/portal.db", smtp_url=server.url
        )
        db = Database(settings.database_url)
        db.upgrade()
        with db.session() as session:
            for i in range(QUEUED):
                outbox.enqueue(
                    session,
                    Message(
                        to=f"customer{i}@example.com",
                        subject=f"Mail {i}",
                        body="Hello",
                        purpose="test",
                    ),
                )
        db.dispose()
        with running_portal(settings):
            deadline = time.monotonic() + 60
            while len(server.inbox.messages) < QUEUED and time.monotonic() < deadline:
                time.sleep(0.2)
        assert len(server.inbox.messages) == QUEUED
    finally:
        server.stop()
