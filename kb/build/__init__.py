"""``portal build``: content files -> static site + search index, incrementally.

Stages, one module each:

1. ``state``: load the last build's state and the content through its stat cache.
2. ``plan``: what changed: the published articles, their link graph (``links``),
   a fingerprint of every page, the articles to render and to index again.
3. ``rendering``: render those articles (in worker processes for large batches).
4. ``pages``: write the pages whose fingerprint changed, the fragments, the
   listings, the static files and the manifest.
5. ``indexing``: update the search index; ``static_search``: the Pagefind bundles of
   the articles whose pages changed (search without the portal).
6. ``generations``: swap the new generation in and prune old ones.

Incremental builds start from a hard-linked copy of the previous generation, so an
unchanged page costs one ``link()``; a page is rewritten only when its fingerprint
(a hash of everything shown on it) changes.
"""

from __future__ import annotations

import shutil
import time

from kb.build import generations, pages, plan
from kb.build.indexing import update_index
from kb.build.options import BuildOptions, BuildReport
from kb.build.plan import Run
from kb.build.rendering import render_articles
from kb.build.state import load_content, save_state
from kb.build.static_search import update_static_search
from kb.layout import article_path, category_path, tag_file_name, tag_path
from kb.paths import DEFAULT_STATIC, DEFAULT_TEMPLATES

__all__ = [
    "DEFAULT_STATIC",
    "DEFAULT_TEMPLATES",
    "BuildOptions",
    "BuildReport",
    "article_path",
    "build",
    "category_path",
    "tag_file_name",
    "tag_path",
]


def build(options: BuildOptions) -> BuildReport:
    """Build the site and index into ``options.out_dir``; see the module docstring."""
    started = time.perf_counter()
    report = BuildReport()
    out = options.out_dir
    with generations.build_lock(out):
        base = plan.baseline(options)
        report.full = base.full
        content = load_content(options, base.state)
        report.problems = [str(p) for p in content.problems]
        generation = generations.new_generation(out, base.previous)
        try:
            _build_into(Run(options, base.state, content, generation, report))
        except BaseException:
            shutil.rmtree(generation.path, ignore_errors=True)
            raise
        base.state.env_digest = base.env_digest
        generations.swap(out, generation.path)
        generations.prune(out, generation.path)
        save_state(out, base.state)
    report.generation = str(generation.path)
    report.seconds = time.perf_counter() - started
    return report


def _build_into(run: Run) -> None:
    """Plan, render, write and index into the new generation (not yet swapped in)."""
    options, report, state = run.options, run.report, run.state
    writer = pages.Writer(run.generation.site, state.fingerprints, report, run.generation.existing)
    work = plan.make_plan(run, writer.needs)
    report.articles = len(work.published.articles)
    report.drafts_skipped = work.published.drafts_skipped
    rendered = render_articles(
        work.to_render,
        work.published.slugs,
        options.content_dir,
        options.directive,
        options.procs,
    )
    report.rendered = len(rendered)
    site = pages.SitePages(options, run.content, writer)
    site.articles(work, rendered)
    site.listings(work)
    site.static()
    update_index(run, work, rendered)
    update_static_search(run, work)
    writer.remove_stale()
    state.fingerprints = writer.new
    pages.write_manifest(run.generation.path, run.content, work)
