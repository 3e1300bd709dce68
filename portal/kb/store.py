"""The portal's view of the built knowledge base: current generation, manifest, search.

Reads only; ``portal build`` writes. The current generation is resolved through the
``current`` symlink (one ``readlink``), so a new build is picked up without restart.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from kb import layout
from kb.search import Searcher


class KnowledgeBase:
    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.searcher = Searcher(lambda: layout.index_dir(build_dir))
        self._lock = threading.Lock()
        self._manifest_for: Path | None = None
        self._manifest: dict[str, Any] = {"articles": [], "aliases": {}, "categories": []}
        self._by_slug: dict[str, dict[str, Any]] = {}

    def generation(self) -> Path | None:
        return layout.current_generation(self.build_dir)

    def site_dir(self) -> Path | None:
        gen = self.generation()
        return gen / layout.SITE if gen else None

    def manifest(self) -> dict[str, Any]:
        gen = self.generation()
        if gen is not None and gen != self._manifest_for:
            with self._lock:
                if gen != self._manifest_for:
                    try:
                        data = layout.read_manifest(gen)
                    except (OSError, ValueError):
                        return self._manifest
                    self._manifest = data
                    self._by_slug = {a["slug"]: a for a in data.get("articles", [])}
                    self._manifest_for = gen
        return self._manifest

    def article(self, slug: str) -> dict[str, Any] | None:
        self.manifest()
        return self._by_slug.get(slug)

    def alias_target(self, slug: str) -> str | None:
        target = self.manifest().get("aliases", {}).get(slug)
        return str(target) if target else None

    def fragment(self, slug: str) -> str | None:
        """The rendered body of an article, for embedding (already safe HTML)."""
        gen = self.generation()
        if gen is None or self.article(slug) is None:
            return None
        try:
            return (self.build_dir / layout.FRAGMENTS / f"{slug}.html").read_text("utf-8")
        except OSError:
            return None

    def file(self, rel: str) -> Path | None:
        """A file of the current site, or None; never anything outside the site."""
        site = self.site_dir()
        if site is None:
            return None
        root = os.path.realpath(site)
        full = os.path.realpath(os.path.join(root, rel))
        if os.path.commonpath([root, full]) != root:
            return None
        if os.path.isdir(full):
            full = os.path.join(full, "index.html")
        return Path(full) if os.path.isfile(full) else None
