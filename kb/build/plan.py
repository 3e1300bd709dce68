"""What changed since the last build and must be redone.

:func:`baseline` decides what the previous build left that can be reused;
:func:`make_plan` picks the published articles, finds their link graph and
fingerprints every article page, then lists the articles to render (page, search
document or embeddable fragment out of date) and to index again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb import layout, search
from kb.build.generations import Generation
from kb.build.links import LinkGraph, link_graph
from kb.build.options import BuildOptions, BuildReport
from kb.build.state import State, fingerprint, load_state
from kb.content import Article, Content


@dataclass
class Run:
    """One build in progress: what the stages after loading read and update."""

    options: BuildOptions
    state: State
    content: Content
    generation: Generation
    report: BuildReport


@dataclass
class Baseline:
    """What the previous build left: its state and its generation, when reusable."""

    state: State
    previous: Path | None  # None: build everything (clean, none yet, or index unusable)
    env_digest: str  # of the options, templates and static files of this build
    full: bool  # every page is written again


def baseline(options: BuildOptions) -> Baseline:
    state = State() if options.clean else load_state(options.out_dir)
    digest = env_digest(options)
    previous = None if options.clean else layout.current_generation(options.out_dir)
    if previous is not None and not search.is_valid_index(
        previous / layout.INDEX, options.search_engine
    ):
        previous = None  # missing, corrupted, an older schema or another engine: start over
    full = previous is None or state.env_digest != digest
    if full:
        state.fingerprints = {}
    return Baseline(state, previous, digest, full)


def env_digest(options: BuildOptions) -> str:
    """Changes when anything every page depends on changes: then all are rewritten."""
    parts: list[object] = [
        State.version,
        search.SCHEMA_VERSION,
        options.static_search,  # where the search forms of the pages go
        options.base_url,
        options.site_name,
        options.include_drafts,
        options.preview,
    ]
    for base in (options.templates_dir, options.static_dir):
        for path in sorted(base.rglob("*")):
            if path.is_file():
                st = path.stat()
                parts.append((str(path.relative_to(base)), st.st_size, st.st_mtime_ns))
    return fingerprint(*parts)


@dataclass
class Published:
    """The articles the site shows, in content order."""

    articles: list[Article]
    by_slug: dict[str, Article]
    slugs: frozenset[str]
    drafts_skipped: int


def select(content: Content, include_drafts: bool) -> Published:
    seen: set[str] = set()
    published: list[Article] = []
    drafts = 0
    for a in content.articles:
        if a.draft and not include_drafts:
            drafts += 1
        elif a.slug in seen or a.category not in content.categories:
            continue  # reported by the checker; the first one wins
        else:
            seen.add(a.slug)
            published.append(a)
    return Published(published, {a.slug: a for a in published}, frozenset(seen), drafts)


def listing_digest(article: Article) -> str:
    """Changes whenever anything a listing shows about the article changes."""
    return fingerprint(
        article.slug,
        article.title,
        article.summary,
        article.category,
        article.tags,
        article.updated,
        article.draft,
    )


def listing_digests(articles: list[Article], state: State) -> dict[str, str]:
    """slug -> listing digest; it only changes with the file or its git date, so the
    last build's is reused."""
    old = state.listing
    state.listing = {}
    listing: dict[str, str] = {}
    for a in articles:
        key = (a.digest, a.updated)
        cached = old.get(a.slug)
        if cached is None or cached[0] != key:
            cached = (key, listing_digest(a))
        state.listing[a.slug] = cached
        listing[a.slug] = cached[1]
    return listing


@dataclass
class Plan:
    published: Published
    listing: dict[str, str]  # slug -> listing digest
    graph: LinkGraph
    fresh: bool  # no previous generation: the index is written from scratch
    page_fingerprints: dict[str, str] = field(default_factory=dict)  # slug -> of its page
    doc_digests: dict[str, str] = field(default_factory=dict)  # slug -> of its search doc
    to_render: list[Article] = field(default_factory=list)
    to_index: list[Article] = field(default_factory=list)  # a subset of to_render

    def digests(self, articles: list[Article]) -> list[str]:
        """Their listing digests: what a listing of them shows."""
        return [self.listing[a.slug] for a in articles]

    def related(self, slug: str) -> list[Article]:
        by_slug = self.published.by_slug
        return [by_slug[r] for r in self.graph.related.get(slug, []) if r in by_slug]


def make_plan(run: Run, page_stale: Callable[[str, str], bool]) -> Plan:
    """``page_stale(path, fingerprint)`` says whether a page must be written again
    (and records its fingerprint: see ``pages.Writer.needs``)."""
    published = select(run.content, run.options.include_drafts)
    listing = listing_digests(published.articles, run.state)
    graph = link_graph(published.articles, run.state, listing, run.options.content_dir)
    plan = Plan(published, listing, graph, fresh=run.generation.previous is None)
    fragments = fragment_names(run.options.out_dir)
    for a in published.articles:
        # what {policy} directives say shows on the page and in the search document
        directives = run.options.directive_digest if a.slug in graph.with_directives else ""
        category_title = run.content.categories[a.category].title
        page = plan.page_fingerprints[a.slug] = _page_fingerprint(
            plan, a, category_title, directives
        )
        doc = plan.doc_digests[a.slug] = fingerprint(a.digest, category_title, directives)
        page_changed = page_stale(layout.article_path(a.slug), page)
        doc_changed = run.state.index_digests.get(a.slug) != doc or plan.fresh
        if page_changed or doc_changed or f"{a.slug}.html" not in fragments:
            plan.to_render.append(a)
            if doc_changed:
                plan.to_index.append(a)
    return plan


def _page_fingerprint(plan: Plan, a: Article, category_title: str, directives: str) -> str:
    """Of everything the article's page shows."""
    slugs = plan.published.slugs
    return fingerprint(
        a.digest,
        a.updated,
        category_title,
        [(r, plan.listing[r]) for r in plan.graph.related.get(a.slug, []) if r in slugs],
        [(s, s in slugs) for s in plan.graph.links.get(a.slug, [])],
        directives,
    )


def fragment_names(out_dir: Path) -> set[str]:
    """The file names in OUT/fragments (article bodies for the portal to embed)."""
    fragments = out_dir / layout.FRAGMENTS
    return set(os.listdir(fragments)) if fragments.is_dir() else set()
