"""Filing after the account's plan has ended (#12): the policy's ``when_ended`` decides,
through kb.policy's plan_in_force. H-Sphere's Priority plan ends into no plan, so a
request filed after its last day is not handled as Priority any more."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.policy import Policy, load_policy
from kb.policy.model import NO_PLAN
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PendingRequest
from portal.directory import importer as accounts
from portal.tickets.filing import file_pending, prepare
from portal.wizard.flow import Draft, check_choose, current_coverage, facts
from portal.wizard.signed_in import known_for
from portal.wizard.views import review_context
from tests.support.paths import EXAMPLES

PACK = EXAMPLES / "hsphere"
EMAIL = "ops@northgate.example"  # HS-10057: Priority until 2027-05-31


@pytest.fixture
def policy() -> Policy:
    if not (PACK / "policy.yaml").exists():
        pytest.skip("example packs not present")
    loaded, problems = load_policy(PACK / "policy.yaml")
    assert loaded is not None and problems == []
    return loaded


@pytest.fixture
def db(tmp_path: Path, policy: Policy) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/portal.db")
    database.upgrade()
    report = accounts.import_file(database, policy, PACK / "accounts.yaml")
    assert report.errors == []
    yield database
    database.dispose()


def _pending(db: Database, now: dt.datetime) -> str:
    pending_id = secrets.token_urlsafe(16)
    data = {
        "text": "a question about my hosting",
        "request_type": "general-support",
        "account": "HS-10057",
        "email": EMAIL,
        "plan": "priority",
        "tz": "Europe/Berlin",
        "details": {},
        "priority": "normal",
        "emergency_claimed": False,
    }
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id="HS-10057",
                email=EMAIL,
                data=data,
                client="test",
                listed=True,
                created_at=now,
            )
        )
    return pending_id


def test_the_plan_holds_on_its_last_day(db: Database, policy: Policy) -> None:
    now = dt.datetime(2027, 5, 31, 12, 0, tzinfo=dt.UTC)
    filing = prepare(db, policy, _pending(db, now), now=now)
    assert filing is not None and filing.plan == "priority"


def test_an_ended_priority_plan_no_longer_gives_priority(
    db: Database, policy: Policy, tmp_path: Path
) -> None:
    now = dt.datetime(2027, 6, 2, 12, 0, tzinfo=dt.UTC)
    pending_id = _pending(db, now)
    filing = prepare(db, policy, pending_id, now=now)
    assert filing is not None and filing.problem == ""
    assert filing.plan is None  # when_ended: plan none
    assert filing.coverage is not None and filing.coverage.status == "paid"
    assert filing.coverage.quote_required  # no published price: a quote first
    settings = Settings.from_env(
        content_dir=PACK,
        policy_file=PACK / "policy.yaml",
        build_dir=tmp_path / "build",
        secret_key="s",
        base_url="https://support.example/",
    )
    filed = file_pending(db, policy, settings, pending_id, accepted_now=True, now=now)
    assert filed is not None and filed.ticket is not None, filed and filed.problem
    assert filed.ticket.plan == "none"
    assert filed.ticket.plan_snapshot["name"] == "No plan (paid work)"
    assert filed.ticket.due_at is None


def test_signed_in_after_the_plan_ended_the_wizard_shows_what_applies(
    db: Database, policy: Policy
) -> None:
    """The choose, coverage and review steps of a signed-in contact use the plan in
    force (here none: paid work, no response time), as filing will, not the ended one."""
    sender = accounts.find_sender(db, "HS-10057", EMAIL)
    assert sender is not None
    last_day = dt.datetime(2027, 5, 31, 12, 0, tzinfo=dt.UTC)
    holds = known_for(db, policy, sender, last_day)
    assert (holds.plan, holds.ended_plan) == ("priority", None)
    after = dt.datetime(2027, 6, 2, 12, 0, tzinfo=dt.UTC)
    known = known_for(db, policy, sender, after)
    assert (known.plan, known.ended_plan) == (NO_PLAN, "priority")
    form = {"request_type": "general-support", "tz": "Europe/Berlin"}
    chosen = check_choose(policy, Draft(text="a question"), form, known=known)
    assert chosen.ok, chosen.errors
    draft = chosen.draft
    assert facts(draft).plan is None
    cov = current_coverage(policy, draft)
    assert cov.status == "paid" and cov.reason.startswith("Your account has no support plan")
    draft.priority = "normal"
    review = review_context(policy, draft, after, rejected_claims=[])
    assert review["plan"] is None and review["coverage"].status == "paid"
    assert review["due"].at is None and "Without a support plan" in review["due"].describe()
    # the anonymous wizard still cannot claim "no plan"
    anonymous = check_choose(
        policy, Draft(text="x"), {**form, "account": "HS-10057", "email": EMAIL, "plan": "none"}
    )
    assert "plan" in anonymous.errors
