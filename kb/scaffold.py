"""``portal new``: a new article with complete front matter, and the editor's
front-matter reference, both generated from the schema the checker uses."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

from kb.content import ARTICLES_DIR, CATEGORY_FILE
from kb.schema import ARTICLE_FIELDS, CATEGORY_FIELDS, Field

REFERENCE_START = "<!-- front-matter-reference:start -->"
REFERENCE_END = "<!-- front-matter-reference:end -->"


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "article"


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def article_template(title: str, *, today: dt.date) -> str:
    return "\n".join(
        [
            "---",
            f"title: {_yaml_string(title)}",
            'summary: "One sentence that says what this article helps with."',
            "tags: []",
            "keywords: []  # phrases customers type, e.g. 'my mailbox does not receive mail'",
            "request_types: []  # ids from policy.yaml this article helps with",
            f"updated: {today.isoformat()}",
            "draft: true  # remove when the article is ready to publish",
            "aliases: []",
            "---",
            "Start with one paragraph that says who this is for and what they will achieve.",
            "",
            "## Before you start",
            "",
            "What the reader needs first.",
            "",
            "## Steps",
            "",
            "1. The first thing to do.",
            "2. The next thing to do.",
            "",
        ]
    )


def new_article(
    content_dir: Path, title: str, category: str, *, today: dt.date
) -> tuple[Path, str]:
    """Create the article file; returns (path, slug). Raises FileExistsError."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", category):
        raise ValueError("the category must be lower-case letters, digits and hyphens")
    slug = slugify(title)
    existing = list((content_dir / ARTICLES_DIR).glob(f"*/{slug}.md"))
    if existing:
        raise FileExistsError(f"an article with the slug '{slug}' exists: {existing[0]}")
    folder = content_dir / ARTICLES_DIR / category
    folder.mkdir(parents=True, exist_ok=True)
    category_file = folder / CATEGORY_FILE
    if not category_file.exists():
        name = category.replace("-", " ").capitalize()
        category_file.write_text(
            f"title: {_yaml_string(name)}\norder: 100\ndescription: {_yaml_string(name + '.')}\n",
            "utf-8",
        )
    path = folder / f"{slug}.md"
    path.write_text(article_template(title, today=today), "utf-8")
    return path, slug


def _table(fields: tuple[Field, ...]) -> list[str]:
    lines = ["| key | type | required | meaning |", "| --- | --- | --- | --- |"]
    for f in fields:
        lines.append(f"| `{f.name}` | {f.kind} | {'yes' if f.required else 'no'} | {f.help} |")
    return lines


def front_matter_reference() -> str:
    """The reference tables for docs/editing.md (between the markers)."""
    return "\n".join(
        [
            REFERENCE_START,
            "Article front matter (`content/articles/<category>/<slug>.md`):",
            "",
            *_table(ARTICLE_FIELDS),
            "",
            "Category metadata (`content/articles/<category>/_category.yaml`):",
            "",
            *_table(CATEGORY_FIELDS),
            REFERENCE_END,
        ]
    )
