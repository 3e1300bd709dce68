"""Where a build's pieces live on disk.

``OUT/current`` is a symlink to the newest complete generation ``OUT/gen-<n>``, which
holds ``site/`` (the static site), ``index/`` (the search index) and
``manifest.json``. A build writes a new generation and then swaps the symlink with one
atomic rename, so readers see either the old build or the new one, never a mix.

Inside ``site/``, pages live at the paths the ``*_path`` functions below give.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CURRENT = "current"
SITE = "site"
INDEX = "index"
FRAGMENTS = "fragments"  # OUT/fragments: article bodies for the portal to embed
MANIFEST = "manifest.json"
CACHE = ".cache"


def current_generation(out_dir: Path) -> Path | None:
    """The resolved directory of the current generation, or None before any build."""
    link = out_dir / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = (out_dir / target).resolve()
    return path if path.is_dir() else None


def index_dir(out_dir: Path) -> Path | None:
    gen = current_generation(out_dir)
    return gen / INDEX if gen else None


def site_dir(out_dir: Path) -> Path | None:
    gen = current_generation(out_dir)
    return gen / SITE if gen else None


def read_manifest(generation: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((generation / MANIFEST).read_text("utf-8"))
    return data


def article_path(slug: str) -> str:
    return f"articles/{slug}.html"


def category_path(slug: str) -> str:
    return f"categories/{slug}.html"


def tag_path(tag: str) -> str:
    return f"tags/{tag}.html"


def tag_file_name(tag: str) -> str:
    """A tag as a safe file name (``tag_path(tag_file_name(tag))`` is its page)."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in tag).strip("-") or "tag"
