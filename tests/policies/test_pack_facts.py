"""Every amount and duration a pack shows a customer is in that pack's source (#12).

For each example pack, everything the policy makes customers read (the article tables
``{policy}`plans``` and ``{policy}`coverage```, every verdict for every plan and for no
plan, every first-response text, the queue and emergency lines) is searched for amounts
of money and durations; each number found must occur in the provider's own document in
../shared/seeds. An invented rate, billing unit, minimum, reaction target or abuse limit
fails here.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from kb.policy import Policy, load_policy
from kb.policy.directives import resolver
from kb.policy.engine import (
    Facts,
    coverage,
    emergency_handling,
    first_response_due,
    precedence_text,
)
from kb.policy.pages import plan_views
from tests.support.packs import PACKS, ROOT, SEEDS, numbers

_numbers = numbers


def _customer_text(policy: Policy) -> str:
    resolve = resolver(policy, dt.date(2026, 12, 1))
    parts = [resolve("plans")[0], resolve("coverage")[0]]  # type: ignore[index]
    moment = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)
    for plan in (*policy.plans, None):
        for rt in policy.request_types:
            c = coverage(policy, rt, Facts(plan=plan))
            parts += [c.reason, c.note, c.acceptance_text]
        for priority in policy.priorities:
            for emergency in (False, True):
                parts.append(
                    first_response_due(
                        policy, plan, priority, moment, emergency=emergency
                    ).describe()
                )
    for view in plan_views(policy, dt.date(2026, 12, 1)):
        parts += [view.price, view.response, view.when_ended]
    for plan in policy.plans:
        parts += [precedence_text(policy, plan), emergency_handling(policy, plan)]
    if policy.emergency:
        parts += [policy.emergency.definition, policy.emergency.abuse_text]
    text = unescape(re.sub(r"<[^>]+>", " ", "\n".join(parts)))
    return text.replace("the next 12 months", "the year ahead")  # the portal's look-ahead


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_amount_and_duration_shown_is_in_the_source(pack: str) -> None:
    source_file = SEEDS / PACKS[pack]
    if not source_file.exists():
        pytest.skip("the source documents are not present")
    source = source_file.read_text("utf-8")
    policy, problems = load_policy(ROOT / "examples" / pack / "policy.yaml")
    assert policy is not None and problems == []
    shown = _numbers(_customer_text(policy))
    invented = {n for n in shown if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", source)}
    assert invented == set(), f"{pack} shows numbers its source does not state: {invented}"


def test_the_check_finds_an_invented_rate() -> None:
    # the old H-Sphere pack: USD 100 per hour in 30-minute units with a 60-minute minimum
    text = "Billable work: $100.00 per hour, billed in 30-minute units, minimum 60 minutes."
    assert _numbers(text) == {"100", "30", "60"}
    assert _numbers("Blocker: 0–1 h; 1–3 hours; 2:00–16:00") == {"0", "1", "3"}
