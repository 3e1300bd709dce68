"""Emergencies explained (kb/policy/emergencies.py) for every pack, only in the policy's
words: the claim with the definition, how a priority differs from the claim, and the
emergency channels with the numbers and addresses the policy gives — or that it gives
none. Shown on /plans and in the wizard's choose and coverage steps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.policy.emergencies import explain_emergencies
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.wizard import choose, describe

POLICIES = {
    "demo": CONTENT / "policy.yaml",
    **{pack: EXAMPLES / pack / "policy.yaml" for pack in ("hsphere", "itpossible", "kolmisoft")},
    "hsphere-reseller": EXAMPLES / "hsphere-reseller" / "policy.yaml",
}
PHONE = re.compile(r"\+?\d[\d ()/-]{6,}\d")


def loaded(path: Path) -> Policy:
    policy, problems = load_policy(path)
    assert policy is not None and not problems
    return policy


@pytest.mark.parametrize("pack", sorted(POLICIES))
def test_only_the_policy_s_words_and_numbers(pack: str) -> None:
    policy = loaded(POLICIES[pack])
    explained = explain_emergencies(policy)
    if policy.emergency is None:
        assert explained is None
        return
    assert explained is not None
    assert explained.claim.endswith(explained.definition)
    assert policy.emergency.definition.strip().rstrip(".") in explained.claim
    source = POLICIES[pack].read_text("utf-8")
    shown = " ".join(
        [explained.claim, explained.difference, explained.instructions, explained.abuse]
        + [f"{c.name} {c.address} {c.description}" for c in explained.channels]
    )
    for number in PHONE.findall(shown):  # no phone number the policy does not give
        assert number in source, number
    for channel in explained.channels:
        if channel.address:
            assert channel.address in source


@pytest.mark.parametrize(
    ("pack", "channels"),
    [
        ("demo", {"Emergency phone line": ""}),
        ("itpossible", {"Emergency voicemail": ""}),
        ("kolmisoft", {"Support system": "http://support.kolmisoft.com"}),
    ],
)
def test_the_emergency_channels(pack: str, channels: dict[str, str]) -> None:
    explained = explain_emergencies(loaded(POLICIES[pack]))
    assert explained is not None
    assert {c.name: c.address for c in explained.channels} == channels
    for c in explained.channels:
        if not c.address:
            assert c.missing == "number"


def test_kolmisoft_blocker_and_the_claim_differ() -> None:
    explained = explain_emergencies(loaded(POLICIES["kolmisoft"]))
    assert explained is not None
    assert explained.priority_name == "Blocker"
    assert "Only an accepted emergency is filed at the Blocker priority" in explained.difference
    assert explained.plans == ("Enterprise", "Premium", "Basic")


def test_plans_page_explains_emergencies_without_inventing_a_number(client: TestClient) -> None:
    page = client.get("/plans").text
    assert "Emergencies and priorities" in page
    assert "Marking a request as an emergency claims that it is one" in page
    assert "A problem with one mailbox, one site or one account is not an emergency." in page
    assert "Only an accepted emergency is filed at the Blocker priority" in page
    assert "<strong>Emergency phone line</strong>: the policy gives no number for it." in page


def test_the_wizard_explains_the_claim_where_it_is_made(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "the mail server is down for everyone")
    page = c.get("/request/choose").text
    assert "Is it an emergency, or just urgent?" in page
    assert "the policy gives no number for it" in page
    choose(c, "mail-server-down", plan="priority")
    page = c.get("/request/coverage").text
    assert "Is it an emergency?" in page
    assert "Marking a request as an emergency claims that it is one" in page
    # a request type that never is an emergency: no explanation on its coverage step
    c2 = browser_client
    describe(c2, "my mailbox does not receive mail")
    choose(c2, "email-not-working")
    assert "Is it an emergency?" not in c2.get("/request/coverage").text
