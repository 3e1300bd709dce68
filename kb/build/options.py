"""What a build is asked to do (:class:`BuildOptions`) and what it did (:class:`BuildReport`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb.paths import DEFAULT_STATIC, DEFAULT_TEMPLATES
from kb.render import DirectiveResolver


@dataclass
class BuildOptions:
    content_dir: Path
    out_dir: Path
    templates_dir: Path = DEFAULT_TEMPLATES
    static_dir: Path = DEFAULT_STATIC
    base_url: str = "http://127.0.0.1:8000/"
    site_name: str = "Support Portal"
    clean: bool = False
    include_drafts: bool = False
    preview: bool = False  # pages load the live-reload script
    procs: int = max(1, os.cpu_count() or 1)
    directive: DirectiveResolver | None = None
    directive_digest: str = ""  # changes when the facts behind directives change
    use_git_dates: bool = True
    search_engine: str = "whoosh"  # kb.search.ENGINES; PORTAL_SEARCH_ENGINE in the portal
    # also write the client-side (Pagefind) index and search.html into the site, for
    # static hosts; preview builds never do (kb/build/static_search.py)
    static_search: bool = True
    progress: Callable[[int, int], None] | None = None


@dataclass
class BuildReport:
    articles: int = 0
    drafts_skipped: int = 0
    rendered: int = 0
    pages_written: int = 0
    pages_kept: int = 0
    pages_removed: int = 0
    indexed: int = 0
    index_removed: int = 0
    index_seconds: float = 0.0  # writing or updating the search index
    static_search_shards: int = 0  # Pagefind bundles written again (0: none changed)
    static_search_seconds: float = 0.0
    full: bool = True
    seconds: float = 0.0
    generation: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kind = "full" if self.full else "incremental"
        return (
            f"{kind} build: {self.articles} articles ({self.rendered} rendered), "
            f"{self.pages_written} pages written, {self.pages_kept} unchanged, "
            f"{self.pages_removed} removed; index: {self.indexed} updated, "
            f"{self.index_removed} removed; static search: {self.static_search_shards} "
            f"bundle(s) in {self.static_search_seconds:.2f} s; {self.seconds:.2f} s"
        )
