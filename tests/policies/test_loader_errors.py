"""kb.policy.parse_policy reports each mistake once, on the line where it is.

Every case edits a small valid policy; the line that should be reported carries the
marker comment ``# <-- here`` so the expected line number is read from the text itself.
"""

from __future__ import annotations

import pytest

from kb.policy import parse_policy
from tests.support.policies import BASE, MARK, edit, marked_line


def test_the_base_policy_is_valid() -> None:
    policy, problems = parse_policy(BASE)
    assert problems == []
    assert policy is not None


CASES = [
    pytest.param(
        BASE + f"colour: blue  {MARK}\n",
        "unknown key",
        id="unknown-top-level-key",
    ),
    pytest.param(
        edit(
            "    coverage: {default: included}\n    details: [description]",
            f"    coverage:\n      basic: included\n      gold: included  {MARK}\n"
            "    details: [description]",
        ),
        "unknown plan 'gold'",
        id="unknown-plan-in-coverage",
    ),
    pytest.param(
        edit(
            "    reaction: {high: 4, low: 16}",
            f"    reaction:\n      high: 4\n      urgent: 1  {MARK}",
        ),
        "unknown priority 'urgent'",
        id="unknown-priority-in-reaction",
    ),
    pytest.param(
        edit('      mon-fri: "08:00-18:00"', f'      mon-fri: "08:00-12:00, 11:00-18:00"  {MARK}'),
        "overlapping hours 08:00–12:00 and 11:00–18:00",
        id="overlapping-windows-on-one-line",
    ),
    pytest.param(
        edit(
            '      mon-fri: "08:00-18:00"', f'      mon-fri: "08:00-18:00"\n      fri: 24h  {MARK}'
        ),
        "fri is given twice",
        id="overlapping-day-ranges",
    ),
    pytest.param(
        edit(
            '      mon-fri: "08:00-18:00"',
            f'      mon-fri: "08:00-18:00"\n      sat: "18:00-08:00"  {MARK}',
        ),
        "impossible hours '18:00-08:00'",
        id="impossible-hours",
    ),
    pytest.param(
        edit("    calendar: office", f"    calendar: offices  {MARK}"),
        "unknown calendar 'offices'",
        id="unknown-calendar",
    ),
    pytest.param(
        edit("  timezone: Europe/Berlin", f"  timezone: Europe/Atlantis  {MARK}"),
        "unknown time zone 'Europe/Atlantis'",
        id="unknown-provider-time-zone",
    ),
    pytest.param(
        edit(
            "  office:\n    hours:",
            f"  office:\n    timezone: Mars/Olympus  {MARK}\n    hours:",
        ),
        "unknown time zone 'Mars/Olympus'",
        id="unknown-calendar-time-zone",
    ),
    pytest.param(
        edit("      country: DE", f"      country: XX  {MARK}"),
        "unknown country code 'XX'",
        id="unknown-holiday-country",
    ),
    pytest.param(
        edit(
            "  - id: scripting\n    title: Script help\n    description: Help with your code.\n"
            "    category: general\n    coverage: {default: paid}\n    rate: hourly\n",
            f"  - id: scripting  {MARK}\n    title: Script help\n"
            "    description: Help with your code.\n"
            "    category: general\n    coverage: {default: paid}\n",
        ),
        "paid coverage needs a 'rate' or a 'fee'",
        id="paid-without-rate-or-fee",
    ),
    pytest.param(
        edit("    details: [description]", f"    details: [description, shoe_size]  {MARK}"),
        "unknown detail 'shoe_size'",
        id="unknown-detail-id",
    ),
    pytest.param(
        edit("    rate: hourly", f"    rate: cheap  {MARK}"),
        "unknown rate 'cheap'",
        id="unknown-rate",
    ),
    pytest.param(
        edit("    rate: hourly", f"    fee: tidy-up  {MARK}"),
        "unknown fee 'tidy-up'",
        id="unknown-fee",
    ),
    pytest.param(
        edit("    unit_minutes: 15", f"    unit_minutes: 15\n    waived_when: [luck]  {MARK}"),
        "unknown waiver condition 'luck'",
        id="unknown-waiver",
    ),
    pytest.param(
        edit("  currency: EUR", f"  currency: EUR: euro  {MARK}"),
        "not valid YAML",
        id="invalid-yaml",
    ),
    pytest.param(
        edit(
            '      mon-fri: "08:00-18:00"',
            f'      mon-fri: "08:00-18:00"\n      sat: "8 to 6"  {MARK}',
        ),
        "is not a time range",
        id="unreadable-hours",
    ),
    pytest.param(
        edit("    reaction: {high: 4, low: 16}", f"    reaction: {{high: soon, low: 16}}  {MARK}"),
        "must be a number of hours or null",
        id="reaction-not-a-number",
    ),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_problem_is_reported_on_its_line(text: str, message: str) -> None:
    _, problems = parse_policy(text, "policy.yaml")
    assert len(problems) == 1, problems
    (problem,) = problems
    assert message in problem.message
    assert problem.line == marked_line(text), problem
    assert problem.path == "policy.yaml"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(
            "  request_types: [outage]",
            f"  request_types: [outage, meltdown]  {MARK}",
            id="in-request-types",
        ),
        pytest.param(
            "  request_types: [outage]",
            f"  request_types: [outage]\n  highest: [meltdown]  {MARK}",
            id="in-highest",
        ),
    ],
)
def test_emergency_with_unknown_request_type_points_at_the_list(old: str, new: str) -> None:
    text = edit(old, new)
    _, problems = parse_policy(text)
    assert any("unknown request type 'meltdown'" in p.message for p in problems), problems
    assert {p.line for p in problems} == {marked_line(text)}


def test_duplicate_day_keys_are_reported() -> None:
    # YAML itself keeps only the last of two equal keys; the loader must say so
    text = edit(
        '      mon-fri: "08:00-18:00"',
        f'      mon-fri: "08:00-18:00"\n      mon-fri: "09:00-17:00"  {MARK}',
    )
    _, problems = parse_policy(text)
    assert [p.line for p in problems] == [marked_line(text)]
    assert "given twice" in problems[0].message


def test_unquoted_versions_are_not_silently_changed() -> None:
    # YAML reads 2.10 as the number 2.1; the loader asks for quotes
    text = BASE + "versions:\n  product: Panel\n  minimum: 2.10\n"
    _, problems = parse_policy(text)
    assert len(problems) == 1
    assert "quote version numbers" in problems[0].message
    assert problems[0].line >= text.splitlines().index("versions:") + 1
