"""The search index of a generation: written whole on a fresh build, otherwise updated
with the documents that changed and without the articles that are gone."""

from __future__ import annotations

import time

from kb import search
from kb.build.plan import Plan, Run
from kb.content import Article
from kb.layout import article_path
from kb.render import Rendered

PARALLEL_DOCS = 500  # index with several processes from this many documents


def update_index(run: Run, plan: Plan, rendered: dict[str, Rendered]) -> None:
    started = time.perf_counter()
    _update_index(run, plan, rendered)
    run.report.index_seconds = time.perf_counter() - started


def _update_index(run: Run, plan: Plan, rendered: dict[str, Rendered]) -> None:
    docs = [_search_doc(run, plan, a, rendered[a.slug]) for a in plan.to_index]
    content, report, state = run.content, run.report, run.state
    index_dir = run.generation.index
    if plan.fresh:
        procs = run.options.procs if len(docs) > PARALLEL_DOCS else 1
        report.indexed = search.write_index(
            index_dir, docs, content.synonyms, procs=procs, engine=run.options.search_engine
        )
    else:
        removed = [s for s in state.index_digests if s not in plan.published.slugs]
        report.indexed, report.index_removed = search.update_index(
            index_dir, docs, removed, content.synonyms
        )
    state.index_digests = {a.slug: plan.doc_digests[a.slug] for a in plan.published.articles}


def _search_doc(run: Run, plan: Plan, a: Article, rendered: Rendered) -> search.SearchDoc:
    return search.SearchDoc(
        slug=a.slug,
        title=a.title,
        summary=a.summary,
        body=rendered.prose,
        extra=rendered.extra,
        category=a.category,
        category_title=run.content.categories[a.category].title,
        url=article_path(a.slug),
        digest=plan.doc_digests[a.slug],
        keywords=tuple(a.keywords),
        tags=tuple(a.tags),
    )
