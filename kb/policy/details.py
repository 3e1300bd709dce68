"""The catalogue of details a request type can require.

The wizard knows how to ask for each of these; a policy picks which ones each request
type needs.
"""

from __future__ import annotations

from dataclasses import dataclass


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
}


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
    )
}
