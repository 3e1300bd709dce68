"""A request type the policy routes to the supervisor goes to the supervisor alone
(itpossible: "complaint@itpossible.com … reaches a supervisor"), not to the support
queue whose work may be what the customer complains about."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kb.policy import Policy, load_policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Outbox, PendingRequest
from portal.directory import importer as accounts
from portal.tickets.filing import file_pending
from tests.support.paths import EXAMPLES

PACK = EXAMPLES / "itpossible"
SENDER = ("karoocafe", "thandi@karoocafe.example")


@pytest.fixture(scope="module")
def policy() -> Policy:
    loaded, problems = load_policy(PACK / "policy.yaml")
    assert loaded is not None and problems == []
    return loaded


def _file(db: Database, policy: Policy, settings: Settings, request_type: str) -> list[Outbox]:
    now = dt.datetime.now(dt.UTC)
    pending_id = secrets.token_urlsafe(16)
    data: dict[str, Any] = {
        "text": "The agent on the phone was rude and hung up on me.",
        "request_type": request_type,
        "account": SENDER[0],
        "email": SENDER[1],
        "tz": "Africa/Johannesburg",
        "details": {"description": "Call on Monday at 10:00, nobody called back."},
        "priority": "normal",
    }
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=SENDER[0],
                email=SENDER[1],
                data=data,
                client="test",
                listed=True,
                created_at=now,
            )
        )
    filing = file_pending(db, policy, settings, pending_id, accepted_now=True, now=now)
    assert filing is not None and filing.ticket is not None, filing and filing.problem
    with db.session() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.ticket_number == filing.ticket.number)
        ).all()
        session.expunge_all()
    assert filing.ticket.routing == ("supervisor" if request_type == "complaint" else "own")
    return list(rows)


def test_a_complaint_goes_to_the_supervisor_alone(
    policy: Policy, demo_settings: Settings, tmp_path: Path
) -> None:
    assert policy.provider.supervisor_email == "complaint@itpossible.com"
    settings = dataclasses.replace(
        demo_settings,
        database_url=f"sqlite:///{tmp_path}/portal.db",
        policy_file=PACK / "policy.yaml",
        helpdesk_email="support@itpossible.example",
    )
    db = Database(settings.database_url)
    db.upgrade()
    try:
        assert not accounts.import_file(db, policy, PACK / "accounts.yaml").errors
        complaint = {(r.purpose, r.recipient) for r in _file(db, policy, settings, "complaint")}
        assert ("supervisor", "complaint@itpossible.com") in complaint
        assert not [p for p, _ in complaint if p == "helpdesk"]
        assert ("confirmation", SENDER[1]) in complaint or any(r == SENDER[1] for _, r in complaint)
        # another type still reaches the support mailbox, never the supervisor
        assert policy.request_types["control-panel-help"].routing == "own"
        ordinary = {
            (r.purpose, r.recipient) for r in _file(db, policy, settings, "control-panel-help")
        }
        assert ("helpdesk", "support@itpossible.example") in ordinary
        assert not [p for p, _ in ordinary if p == "supervisor"]
    finally:
        db.dispose()
