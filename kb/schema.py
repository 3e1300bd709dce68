"""The front-matter schema of articles and categories.

One table drives the loader, ``portal check`` and the editor's guide
(``docs/editing.md``), so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "string", "list of strings", "date", "boolean", "integer"
    required: bool
    help: str


ARTICLE_FIELDS: tuple[Field, ...] = (
    Field("title", "string", True, "Shown as the page heading and in search results."),
    Field("summary", "string", True, "One sentence; shown under the title and in listings."),
    Field("tags", "list of strings", False, "Lower-case topics; each tag gets a listing page."),
    Field(
        "keywords",
        "list of strings",
        False,
        "Phrases customers type for this problem; boosted in search.",
    ),
    Field(
        "request_types",
        "list of strings",
        False,
        "Ids of request types in the policy this article helps with.",
    ),
    Field(
        "updated",
        "date",
        False,
        "Last review date (YYYY-MM-DD); defaults to the file's last git commit date.",
    ),
    Field("draft", "boolean", False, "true hides the article from the public site and search."),
    Field("aliases", "list of strings", False, "Old slugs that redirect to this article."),
)

CATEGORY_FIELDS: tuple[Field, ...] = (
    Field("title", "string", True, "Category name shown in navigation."),
    Field("order", "integer", False, "Position on the home page (lowest first)."),
    Field("description", "string", False, "One sentence shown on the home and category pages."),
)

ARTICLE_KEYS = frozenset(f.name for f in ARTICLE_FIELDS)
CATEGORY_KEYS = frozenset(f.name for f in CATEGORY_FIELDS)
