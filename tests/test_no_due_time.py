"""A plan that promises no response time (#12): the review, the filing link page and
the status page give the policy's words and when support next opens, in the customer's
time zone, instead of a due time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb.policy import Policy, load_policy
from portal.db.models import Ticket
from portal.tickets.views import _response_words
from portal.wizard.flow import Draft
from portal.wizard.views import review_context

PACK = Path(__file__).resolve().parent.parent / "examples" / "hsphere" / "policy.yaml"
# Saturday 28 November 2026, 12:00 UTC: the Regular support is closed until Monday
SATURDAY = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    if not PACK.exists():
        pytest.skip("example packs not present")
    loaded, problems = load_policy(PACK)
    assert loaded is not None and problems == []
    return loaded


def test_the_review_gives_the_policys_words_and_when_support_opens(policy: Policy) -> None:
    draft = Draft(
        text="question about my hosting",
        request_type="general-support",
        plan="regular",
        tz="Europe/Berlin",
        priority="normal",
    )
    context = review_context(policy, draft, SATURDAY)
    assert context["due_local"] is None
    assert "No response time is promised" in context["due"].describe()
    opens = context["due"].opens_at
    assert opens is not None and opens > SATURDAY
    local = opens.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Berlin in November
    assert context["opens_local"] == local.strftime("%a %-d %b, %H:%M") + " (Europe/Berlin)"
    assert context["opens_local"].startswith("Mon 30 Nov")


def test_the_status_page_gives_the_words_filed_with_and_the_next_opening(
    policy: Policy,
) -> None:
    ticket = Ticket(
        plan="regular",
        priority="normal",
        emergency_accepted=False,
        due_at=None,
        plan_snapshot={"name": "Regular", "first_response_text": "As filed.", "tz": "Asia/Tokyo"},
    )
    text, opens, tz = _response_words(policy, ticket, SATURDAY)
    assert text == "As filed." and tz == "Asia/Tokyo"
    assert opens is not None and opens.utcoffset() == dt.timedelta(hours=9)
    assert opens > SATURDAY
    # a ticket filed before the snapshot kept the words: the policy's words now
    ticket.plan_snapshot = {"name": "Regular"}
    text, _, tz = _response_words(policy, ticket, SATURDAY)
    assert "No response time is promised" in text
    assert tz == policy.provider.timezone
