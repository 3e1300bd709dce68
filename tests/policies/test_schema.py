"""kb/policy/schema.py: one declaration per key drives the loader, the model and the docs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kb.policy import parse_policy, schema
from kb.policy.fields import Conditions, Items, KeyedBy, Section, Target
from kb.policy.model import Calendar, Emergency, RequestType
from kb.policy.reference import SECTIONS, end_marker, start_marker, update_reference
from tests.support.policies import BASE, MARK, edit, marked_line

ROOT = Path(__file__).resolve().parents[2]

# sections whose model the loader builds by hand: key → the attributes it fills
BUILT_BY_HAND: dict[str, tuple[type, dict[str, set[str]]]] = {
    "calendars": (
        Calendar,
        {
            "hours": {"weekly", "published"},
            "holidays": {"holiday_country", "holiday_subdivision", "extra_closed", "holiday_hours"},
        },
    ),
    "request_types": (RequestType, {"coverage": {"coverage", "default_coverage"}}),
    "emergency": (
        Emergency,
        {"abuse": {"max_rejected", "window_days", "ignore_days", "abuse_text"}},
    ),
}


def _fields(model: type) -> set[str]:
    assert dataclasses.is_dataclass(model)
    return {f.name for f in dataclasses.fields(model)}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_every_model_attribute_has_a_key(section: Section) -> None:
    """A key added to the model but not to the schema (or the reverse) fails here."""
    if isinstance(section.model, type):
        assert {key.attribute for key in section.keys} == _fields(section.model)
    elif section.name in BUILT_BY_HAND:
        model, filled = BUILT_BY_HAND[section.name]
        attributes = {"id"} if model is Calendar else set()  # calendars: id is the key
        for key in section.keys:
            attributes |= filled.get(key.name, {key.attribute})
        assert attributes == _fields(model)


def test_every_section_is_in_the_reference() -> None:
    page = (ROOT / "docs/policy.md").read_text("utf-8")
    for section in SECTIONS:
        assert start_marker(section.name) in page and end_marker(section.name) in page


def test_a_missing_reference_block_is_an_error() -> None:
    page = (ROOT / "docs/policy.md").read_text("utf-8")
    broken = page.replace(start_marker("plans.price"), "")
    with pytest.raises(ValueError, match=r"plans\.price"):
        update_reference(broken)


def test_the_generated_table_lists_each_key_with_its_default() -> None:
    page = (ROOT / "docs/policy.md").read_text("utf-8")
    block = page[page.index(start_marker("rates")) : page.index(end_marker("rates"))]
    # no unit is invented: without unit_minutes, time is not rounded to any unit
    assert "| `unit_minutes` | whole number, above 0 | none (no unit stated" in block
    assert "| `amount` | amount | none (priced on request) |" in block
    assert "| `name` | text | the id |" in block
    assert [row.split("`")[1] for row in block.splitlines() if row.startswith("| `")] == [
        key.name for key in schema.RATE_ITEM.keys
    ]


def _targets_defined(value: object) -> set[str]:
    """Targets a kind of value makes (a list of items with ids, the waiver conditions)."""
    if isinstance(value, Items | Conditions):
        return {value.target}
    return set()


def _targets_used(section: Section) -> set[str]:
    used: set[str] = set()
    for key in section.keys:
        for target in (getattr(key.type, a, None) for a in ("target", "plans", "statuses")):
            if isinstance(target, Target) and target.choices is None:
                used.add(target.name)
        if isinstance(key.type, KeyedBy) and key.type.target.choices is None:
            used.add(key.type.target.name)
        inner = getattr(key.type, "section", None)
        if isinstance(inner, Section):
            used |= _targets_used(inner)
    return used


def _defined_within(section: Section) -> set[str]:
    found: set[str] = set()
    for key in section.keys:
        found |= _targets_defined(key.type)
        inner = getattr(key.type, "section", None)
        if isinstance(inner, Section):
            found |= _defined_within(inner)
    return found


def test_sections_refer_only_to_what_is_read_before_them() -> None:
    """The loader reads the top-level keys in declaration order and checks references as
    it goes, so a key may refer only to ids of earlier sections or of its own."""
    defined: set[str] = set()
    for key in schema.POLICY.keys:
        inner = getattr(key.type, "section", None)
        own = _targets_defined(key.type) | (_defined_within(inner) if inner else set())
        if inner is not None:
            assert _targets_used(inner) <= defined | own, key.name
        defined |= own


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("  - id: low\n", f"  - name: Lowest  {MARK}\n", id="priority"),
        pytest.param(
            "  currency: EUR\n",
            f"  currency: EUR\n  channels:\n    - name: Web  {MARK}\n",
            id="channel",
        ),
        pytest.param(
            "fees:\n",
            f"contacts:\n  roles:\n    - name: Owner  {MARK}\nfees:\n",
            id="contact-role",
        ),
        pytest.param(
            "request_types:\n",
            f"request_type_categories:\n  - title: General  {MARK}\nrequest_types:\n",
            id="category",
        ),
    ],
)
def test_an_item_without_an_id_is_reported_once(old: str, new: str) -> None:
    text = edit(old, new)
    _, problems = parse_policy(text)
    id_problems = [p for p in problems if "needs an 'id'" in p.message]
    assert len(id_problems) == 1, problems
    assert id_problems[0].line == marked_line(text)


def test_problems_come_in_file_order() -> None:
    text = edit("  timezone: Europe/Berlin", "  timezone: Europe/Atlantis") + "colour: blue\n"
    _, problems = parse_policy(text)
    assert [p.line for p in problems] == [3, len(text.splitlines())]


MORE_CASES = [
    pytest.param(
        edit("    unit_minutes: 15", f"    unit_minutes: 15\n    minimum_minutes: -30  {MARK}"),
        "must not be negative",
        id="negative-minimum-minutes",
    ),
    pytest.param(
        BASE + f"versions:\n  product: Panel\n  releases: 7  {MARK}\n",
        "must be a list",
        id="releases-not-a-list",
    ),
    pytest.param(
        BASE + f'versions:\n  product: Panel\n  releases: ["2.9", 2.10]  {MARK}\n',
        "quote version numbers: 2.1 is read as a number",
        id="unquoted-release-on-its-line",
    ),
    pytest.param(
        edit("    rate: hourly", f"    rate: hourly\n    routing: sideways  {MARK}"),
        "unknown routing 'sideways' (one of own, upstream, supervisor)",
        id="unknown-routing-names-the-value",
    ),
    pytest.param(
        edit(
            "fees:\n",
            f"contacts:\n  roles:\n    - {{id: owner, name: Owner}}\n"
            f"  restricted_roles: [owner, boss]  {MARK}\nfees:\n",
        ).replace("    details: [description]", "    details: [description]\n    restricted: true"),
        "unknown contact role 'boss'",
        id="unknown-restricted-role-once-not-per-restricted-type",
    ),
    pytest.param(
        edit(
            "    coverage: {default: included}\n    details: [description]",
            f"    coverage: {{default: not_in_plan}}  {MARK}\n    details: [description]",
        ),
        "no plan includes or charges for it: write unsupported (not offered)",
        id="not-in-plan-with-no-plan-offering-it-is-not-offered",
    ),
    pytest.param(
        edit(
            "    details: [description]",
            f"    details: [description]\n    optional_details: [screenshot]  {MARK}",
        ),
        "'screenshot' is not one of this type's details",
        id="optional-details-must-be-asked",
    ),
    pytest.param(
        edit(
            "    details: [description]",
            "    details: [description]\n"
            f"    detail_groups: [{{options: [[description]]}}]  {MARK}",
        ),
        "options must list at least two options",
        id="a-detail-group-needs-two-options",
    ),
    pytest.param(
        edit(
            "    details: [description]",
            f"    details: [description]\n    routing: supervisor  {MARK}",
        ),
        "routing: supervisor needs provider.supervisor_email",
        id="supervisor-routing-needs-the-address",
    ),
    pytest.param(
        edit(
            "    details: [description]",
            f"    details: [description]\n    schedules: later  {MARK}",
        ),
        "unknown schedule 'later' (one of cancellation)",
        id="unknown-schedules-names-the-value",
    ),
    pytest.param(
        edit(
            "    details: [description]",
            f"    details: [description]\n    schedules: cancellation  {MARK}",
        ),
        "schedules: cancellation needs server in details",
        id="a-scheduled-cancellation-needs-the-server-detail",
    ),
    pytest.param(
        edit(
            "    reaction: {high: 4, low: 16}",
            f"    reaction: {{high: 4, low: 16}}\n    when_ended: {{plan: basic}}  {MARK}",
        ),
        "a plan cannot fall back to itself",
        id="a-plan-cannot-fall-back-to-itself",
    ),
    pytest.param(
        edit(
            "    reaction: {high: 4, low: 16}",
            f"    reaction: {{high: 4, low: 16}}\n    when_ended: {{plan: gold}}  {MARK}",
        ),
        "unknown plan 'gold'",
        id="when-ended-names-a-plan-or-none",
    ),
]


@pytest.mark.parametrize(("text", "message"), MORE_CASES)
def test_more_problems_are_reported_once_on_their_line(text: str, message: str) -> None:
    _, problems = parse_policy(text, "policy.yaml")
    assert len(problems) == 1, problems
    (problem,) = problems
    assert message in problem.message
    assert problem.line == marked_line(text), problem


def test_a_null_reaction_text_keeps_the_computed_target() -> None:
    text = edit(
        "    reaction: {high: 4, low: 16}",
        "    reaction: {high: 4, low: 16}\n    reaction_text: {high: null, low: when time allows}",
    )
    policy, problems = parse_policy(text)
    assert problems == [] and policy is not None
    assert policy.plans["basic"].reaction_text == {"low": "when time allows"}
