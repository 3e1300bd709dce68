"""Markdown bodies -> HTML and plain text, in worker processes for large batches."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kb.build.state import body
from kb.content import Article
from kb.render import DirectiveResolver, Rendered, render_markdown

PARALLEL_THRESHOLD = 300

# slug, Markdown body, line of the body in its file, published slugs, directive resolver
Job = tuple[str, str, int, frozenset[str], DirectiveResolver | None]


def render_articles(
    articles: list[Article],
    slugs: frozenset[str],
    content_dir: Path,
    directive: DirectiveResolver | None,
    procs: int,
) -> dict[str, Rendered]:
    """slug -> rendered body; links to the ``slugs`` resolve to their pages."""
    jobs = [(a.slug, body(content_dir, a), a.body_line, slugs, directive) for a in articles]
    if procs > 1 and len(jobs) >= PARALLEL_THRESHOLD:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
            return dict(pool.map(_render_one, jobs, chunksize=64))
    return dict(map(_render_one, jobs))


def _render_one(job: Job) -> tuple[str, Rendered]:
    slug, text, body_line, slugs, directive = job

    def url(target: str) -> str | None:
        return f"{target}.html" if target in slugs else None

    return slug, render_markdown(text, body_line=body_line, article_url=url, directive=directive)
