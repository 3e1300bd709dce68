"""The ``portal`` command: a thin click group over kb and the app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kb import content as content_mod
from kb.check import check_content
from portal.config import Settings

CONTENT_OPTION = click.option(
    "--content",
    "content_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Content directory (default: $PORTAL_CONTENT_DIR or ./content).",
)


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})


@click.group()
@click.version_option(package_name="support-portal")
def main() -> None:
    """Support Portal: knowledge base, support policy and request wizard."""


@main.command()
@CONTENT_OPTION
@click.option(
    "--out",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory (default: $PORTAL_BUILD_DIR or ./build).",
)
@click.option("--clean", is_flag=True, help="Rebuild everything from scratch.")
@click.option("--drafts", is_flag=True, help="Include draft articles (preview builds).")
def build(content_dir: Path | None, build_dir: Path | None, clean: bool, drafts: bool) -> None:
    """Render the static site and the search index (incrementally)."""
    from portal.building import build_options

    settings = _settings(content_dir=content_dir, build_dir=build_dir)
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

    from kb.build import build as run_build

    report = run_build(
        build_options(settings, clean=clean, include_drafts=drafts, progress=progress)
    )
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(report.summary())
    click.echo(f"site: {settings.build_dir / 'current' / 'site'}")


@main.command()
@CONTENT_OPTION
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    help="github prints GitHub Actions annotations.",
)
def check(content_dir: Path | None, output_format: str) -> None:
    """Validate the content; print path:line: message per problem, exit 1 if any."""
    settings = _settings(content_dir=content_dir)
    content = content_mod.load(settings.content_dir)
    problems = check_content(content)
    for problem in problems:
        line = problem.github() if output_format == "github" else str(problem)
        # paths are shown relative to where the command runs, as editors expect
        click.echo(line.replace(problem.path, str(settings.content_dir / problem.path), 1))
    if problems:
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(content.articles)} articles, {len(content.categories)} categories")


@main.command()
@click.argument("query")
@CONTENT_OPTION
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as /api/search.")
@click.option(
    "--out",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build directory holding the index (default: $PORTAL_BUILD_DIR or ./build).",
)
def search(
    query: str, content_dir: Path | None, limit: int, as_json: bool, build_dir: Path | None
) -> None:
    """Search the knowledge base (builds it first if needed)."""
    from kb import layout
    from kb.search import Searcher
    from portal.app import ensure_built

    settings = _settings(content_dir=content_dir, build_dir=build_dir)
    ensure_built(settings)
    searcher = Searcher(lambda: layout.index_dir(settings.build_dir))
    result = searcher.search(query, limit=limit, facets=False)
    if as_json:
        click.echo(json.dumps(result.as_json(url_prefix="/"), indent=2, ensure_ascii=False))
        return
    if result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}")
    click.echo(f"{result.total} result(s)")
    for hit in result.hits:
        click.echo(f"{hit.score:8.2f}  {hit.title}  /{hit.url}")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: $PORTAL_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: $PORTAL_PORT).")
@click.option("--workers", type=int, default=1, show_default=True)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the portal with uvicorn (builds the knowledge base first if needed)."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "portal.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=False,
        log_level="info",
    )
