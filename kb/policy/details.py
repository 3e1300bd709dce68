"""The catalogue of details a request type can require.

The wizard knows how to ask for each of these; a policy picks which ones each request
type needs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.policy.model import RequestType


@dataclass(frozen=True)
class DetailField:
    id: str
    label: str
    help: str
    kind: str  # one of KIND_NAMES


KIND_NAMES = {  # how each kind of answer reads in docs/policy.md
    "text": "one line of text",
    "textarea": "several lines of text",
    "datetime": "date and time",
    "date": "date",
    "file": "file",
    "email": "email address",
    "number": "whole number",
}

# details the customer may always leave empty
ALWAYS_OPTIONAL = frozenset({"preferred_date", "screenshot"})


DETAIL_FIELDS: dict[str, DetailField] = {
    f.id: f
    for f in (
        DetailField(
            "error_message",
            "Exact error message",
            "Copy and paste the full message as it appears, or type it word for word.",
            "textarea",
        ),
        DetailField(
            "occurred_at",
            "When did it happen?",
            "Date and time in your own time zone; if it keeps happening, the last time.",
            "datetime",
        ),
        DetailField(
            "doing",
            "What were you doing at the time?",
            "The steps you took just before the problem, so we can reproduce it.",
            "textarea",
        ),
        DetailField(
            "screenshot",
            "Screenshot",
            "A picture of the problem (PNG, JPEG or WebP).",
            "file",
        ),
        DetailField(
            "server",
            "Server name and id",
            "As shown in your control panel, e.g. web-12 (id 4711).",
            "text",
        ),
        DetailField(
            "preferred_date",
            "Preferred date",
            "When the work should happen; leave empty for as soon as possible.",
            "date",
        ),
        DetailField("domain", "Domain name", "The domain concerned, e.g. example.com.", "text"),
        DetailField("url", "Address of the page", "The full address (URL) that fails.", "text"),
        DetailField(
            "mailbox", "Affected email address", "The mailbox that does not work.", "email"
        ),
        DetailField(
            "software",
            "Software and version",
            "What to install or upgrade, and the version you need.",
            "text",
        ),
        DetailField(
            "product_version",
            "Product version",
            "The version you run, as shown on the About page, e.g. 5.4.",
            "text",
        ),
        DetailField(
            "description",
            "Describe your request",
            "What you need, in your own words.",
            "textarea",
        ),
        DetailField(
            "server_count",
            "Number of servers",
            "How many servers the plan is for, e.g. 6.",
            "number",
        ),
    )
}


def required_details(request_type: RequestType) -> tuple[str, ...]:
    """The details that must each be filled in: not optional and not in a group."""
    grouped = {d for g in request_type.detail_groups for d in g.members}
    optional = ALWAYS_OPTIONAL | set(request_type.optional_details) | grouped
    return tuple(d for d in request_type.details if d not in optional)


def group_text(request_type: RequestType, index: int) -> str:
    """What the customer reads when no option of a detail group is complete."""
    group = request_type.detail_groups[index]
    if group.text:
        return group.text
    options = [
        " and ".join(f"“{DETAIL_FIELDS[d].label}”" for d in option) for option in group.options
    ]
    return "Fill in " + ", or ".join(options) + "."


def missing_details(request_type: RequestType, filled: Collection[str]) -> dict[str, str]:
    """What is missing from an answer, by detail id (or ``group-N`` for a detail group
    none of whose options is complete), with the message to show; empty when complete.
    ``filled`` holds the ids of the details given (non-empty, attachments included)."""
    given = set(filled)
    missing: dict[str, str] = {}
    for detail in required_details(request_type):
        if detail in given:
            continue
        field = DETAIL_FIELDS[detail]
        missing[detail] = (
            f"Attach the {field.label.lower()}."
            if field.kind == "file"
            else f"Fill in “{field.label}”."
        )
    for i, group in enumerate(request_type.detail_groups):
        if not any(set(option) <= given for option in group.options):
            missing[f"group-{i}"] = group_text(request_type, i)
    return missing


def number_problem(field: DetailField, value: str) -> str:
    """What is wrong with a filled-in ``number`` detail, or ""."""
    if field.kind != "number":
        return ""
    text = value.strip()
    if not text.isdigit() or int(text) < 1 or len(text) > 6:
        return f"Enter “{field.label}” as a whole number, like 6."
    return ""
