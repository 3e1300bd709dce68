"""Verbs for content editors: build, check, search, new, report."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from portal.cli.common import built_searcher, open_database, pass_settings, printable
from portal.config import Settings


@click.command()
@click.option("--clean", is_flag=True, help="Rebuild everything from scratch.")
@click.option("--drafts", is_flag=True, help="Include draft articles (preview builds).")
@pass_settings(content=True, policy=True, out=True)
def build(settings: Settings, clean: bool, drafts: bool) -> None:
    """Render the static site and the search index (incrementally)."""
    from kb.build import build as run_build
    from portal.kb.building import build_options

    options = build_options(settings, clean=clean, include_drafts=drafts, progress=_progress())
    report = run_build(options)
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(report.summary())
    click.echo(f"site: {settings.build_dir / 'current' / 'site'}")


def _progress() -> Callable[[int, int], None]:
    """A progress bar on stderr when it is a terminal."""
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Rendering articles", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done == total:
            bar.__exit__(None, None, None)

    return progress


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    help="github prints GitHub Actions annotations.",
)
@click.option(
    "--stale",
    is_flag=True,
    help="Also list articles not updated for $PORTAL_STALE_DAYS days (default 365).",
)
@pass_settings(content=True, policy=True)
def check(settings: Settings, output_format: str, stale: bool) -> None:
    """Validate content and policy; print path:line: message per problem, exit 1 if any."""
    from kb.check import check_all

    stale_days = settings.stale_days if stale else None
    report = check_all(settings.content_dir, settings.policy_file, stale_days=stale_days)
    for problem in report.problems:
        click.echo(problem.github() if output_format == "github" else str(problem))
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo(report.summary())


@click.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as /api/search.")
@pass_settings(content=True, policy=True, out=True)
def search(settings: Settings, query: str, limit: int, as_json: bool) -> None:
    """Search the knowledge base (builds it first if needed)."""
    result = built_searcher(settings).search(query, limit=limit, facets=False)
    if as_json:
        click.echo(json.dumps(result.as_json(url_prefix="/"), indent=2, ensure_ascii=False))
        return
    if result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}")
    click.echo(f"{result.total} result(s)")
    for hit in result.hits:
        click.echo(f"{hit.score:8.2f}  {hit.title}  /{hit.url}")


@click.command()
@click.argument("title")
@click.option("--category", required=True, help="Category folder, e.g. hosting.")
@pass_settings(content=True)
def new(settings: Settings, title: str, category: str) -> None:
    """Create an article with complete front matter (as a draft) and print its path."""
    from kb.scaffold import new_article

    try:
        path, slug = new_article(settings.content_dir, title, category, today=dt.date.today())
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {path}")
    click.echo(f"preview: {settings.base_url}articles/{slug}.html  (run `portal serve --reload`)")


@click.command()
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings()
def report(settings: Settings, top: int, as_json: bool) -> None:
    """What content editors should write next: deflection, failed searches, drop-offs."""
    from portal import analytics

    with open_database(settings) as db:
        result = analytics.report(db, top=top)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    click.echo(
        f"Requests started: {result.started}; solved by an article: {result.deflected} "
        f"(deflection rate {result.deflection_rate:.1%}); completed: {result.ready}"
    )
    click.echo("\nWhere customers gave up:")
    for step, reached, abandoned in result.steps:
        click.echo(f"  {step:<9} reached {reached:>6}   abandoned {abandoned:>6}")
    sections = (
        ("Searches that found nothing (write these articles next):", result.failed_searches),
        ("Searches whose results nobody opened (improve these):", result.unclicked_searches),
        ("Articles that solved problems most often:", result.deflecting_articles),
        ("Articles suggested most often:", result.shown_articles),
    )
    for title, rows in sections:
        click.echo(f"\n{title}")
        for key, count in rows or [("(none yet)", 0)]:
            click.echo(printable(f"  {count:>5}  {key}"))
