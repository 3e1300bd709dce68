"""Content trees written into temporary directories."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_tree(base: Path, files: dict[str, str]) -> Path:
    """Create files (dedented) under base; returns base."""
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return base


def article(title: str, summary: str, body: str = "Body text.", **extra: str) -> str:
    """An article's Markdown with front matter: title, summary and ``extra`` keys."""
    lines = ["---", f"title: {title}", f"summary: {summary}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    lines += ["---", textwrap.dedent(body).strip(), ""]
    return "\n".join(lines)
