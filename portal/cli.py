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


POLICY_OPTION = click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy file (default: $PORTAL_POLICY or <content>/policy.yaml).",
)


def _settings(**overrides: Any) -> Settings:
    settings = Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    policy_file = overrides.get("policy_file")
    if policy_file is None and overrides.get("content_dir") is not None:
        # --content without --policy: the policy that lives with that content
        import os

        if not os.environ.get("PORTAL_POLICY"):
            settings = Settings.from_env(
                **{k: v for k, v in overrides.items() if v is not None},
                policy_file=settings.content_dir / "policy.yaml",
            )
    return settings


def _policy_or_exit(settings: Settings) -> Any:
    from portal.building import load_settings_policy

    policy, problems = load_settings_policy(settings)
    if problems or policy is None:
        for problem in problems:
            click.echo(str(problem), err=True)
        if policy is None and not problems:
            click.echo(f"no policy file at {settings.policy_file}", err=True)
        sys.exit(1)
    return policy


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
@POLICY_OPTION
def build(
    content_dir: Path | None,
    build_dir: Path | None,
    clean: bool,
    drafts: bool,
    policy_file: Path | None,
) -> None:
    """Render the static site and the search index (incrementally)."""
    from portal.building import build_options

    settings = _settings(content_dir=content_dir, build_dir=build_dir, policy_file=policy_file)
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
@POLICY_OPTION
def check(content_dir: Path | None, output_format: str, policy_file: Path | None) -> None:
    """Validate content and policy; print path:line: message per problem, exit 1 if any."""
    from kb.policy.directives import resolver
    from kb.policy.load import check_article_references
    from portal.building import load_settings_policy

    settings = _settings(content_dir=content_dir, policy_file=policy_file)
    content = content_mod.load(settings.content_dir)
    policy, policy_problems = load_settings_policy(settings)
    problems = [
        p.__class__(str(settings.content_dir / p.path), p.line, p.message)
        for p in check_content(
            content,
            request_types=set(policy.request_types) if policy else None,
            directive=resolver(policy) if policy else None,
        )
    ]
    problems += policy_problems
    if policy is not None:
        slugs = {a.slug for a in content.articles if not a.draft}
        problems += check_article_references(policy, slugs, str(settings.policy_file))
    for problem in problems:
        click.echo(problem.github() if output_format == "github" else str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    summary = f"ok: {len(content.articles)} articles, {len(content.categories)} categories"
    if policy is not None:
        summary += f"; policy: {len(policy.plans)} plans, {len(policy.request_types)} request types"
    click.echo(summary)


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
@POLICY_OPTION
def search(
    query: str,
    content_dir: Path | None,
    limit: int,
    as_json: bool,
    build_dir: Path | None,
    policy_file: Path | None,
) -> None:
    """Search the knowledge base (builds it first if needed)."""
    from kb import layout
    from kb.search import Searcher
    from portal.app import ensure_built

    settings = _settings(content_dir=content_dir, build_dir=build_dir, policy_file=policy_file)
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
@CONTENT_OPTION
@POLICY_OPTION
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    content_dir: Path | None,
    policy_file: Path | None,
) -> None:
    """Serve the portal with uvicorn (builds the knowledge base first if needed)."""
    import os

    import uvicorn

    # the server reads its settings from the environment (also in worker processes)
    if content_dir is not None:
        os.environ["PORTAL_CONTENT_DIR"] = str(content_dir)
    if policy_file is not None:
        os.environ["PORTAL_POLICY"] = str(policy_file)
    settings = _settings()
    uvicorn.run(
        "portal.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=False,
        log_level="info",
    )


@main.command()
@click.argument("text")
@click.option("--plan", default=None, help="Plan id (default: the policy's first plan).")
@click.option("--version", "product_version", default=None, help="Product version, e.g. 5.4.")
@click.option("--role", default=None, help="Contact role of the person asking.")
@click.option(
    "--at",
    "at",
    default=None,
    help="Filing time, ISO 8601 with offset (default: now), e.g. 2026-11-24T09:00+01:00.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /api/triage.")
@CONTENT_OPTION
@POLICY_OPTION
@click.option(
    "--out",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build directory holding the index (default: $PORTAL_BUILD_DIR or ./build).",
)
def triage(
    text: str,
    plan: str | None,
    product_version: str | None,
    role: str | None,
    at: str | None,
    as_json: bool,
    content_dir: Path | None,
    policy_file: Path | None,
    build_dir: Path | None,
) -> None:
    """Suggest request types for TEXT with coverage, cost, articles and response time."""
    import datetime as dt

    from kb import layout
    from kb.search import Searcher
    from portal.app import ensure_built
    from portal.triage import TriageError, TriageRequest
    from portal.triage import triage as run_triage

    settings = _settings(content_dir=content_dir, build_dir=build_dir, policy_file=policy_file)
    policy = _policy_or_exit(settings)
    try:
        moment = dt.datetime.fromisoformat(at) if at else None
    except ValueError as exc:
        raise click.BadParameter(
            "use ISO 8601, e.g. 2026-11-24T09:00+01:00", param_hint="--at"
        ) from exc
    ensure_built(settings)
    searcher = Searcher(lambda: layout.index_dir(settings.build_dir))
    synonyms = tuple(tuple(g) for g in content_mod.load_synonyms(settings.content_dir))
    try:
        result = run_triage(
            policy,
            searcher,
            TriageRequest(text=text, plan=plan, version=product_version, role=role, at=moment),
            synonyms=synonyms,
        )
    except TriageError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for item in result["request_types"]:
        cov = item["coverage"]
        click.echo(f"{item['score']:7.2f}  {item['title']} [{item['id']}]: {cov['status']}")
        click.echo(f"         {cov['reason']}")
    if result["first_response_due"]:
        click.echo(f"first response due: {result['first_response_due']}")
    for article in result["articles"]:
        click.echo(f"article: {article['title']}  {article['url']}")


@main.command()
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report(top: int, as_json: bool) -> None:
    """What content editors should write next: deflection, failed searches, drop-offs."""
    from portal import analytics
    from portal.db.engine import Database

    settings = _settings()
    db = Database(settings.database_url)
    db.upgrade()
    result = analytics.report(db, top=top)
    db.dispose()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "started": result.started,
                    "deflected": result.deflected,
                    "deflection_rate": round(result.deflection_rate, 4),
                    "ready": result.ready,
                    "failed_searches": result.failed_searches,
                    "deflecting_articles": result.deflecting_articles,
                    "suggested_articles": result.shown_articles,
                    "steps": [
                        {"step": s, "reached": n, "abandoned": a} for s, n, a in result.steps
                    ],
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"Requests started: {result.started}; solved by an article: {result.deflected} "
        f"(deflection rate {result.deflection_rate:.1%}); completed: {result.ready}"
    )
    click.echo("\nWhere customers gave up:")
    for step, reached, abandoned in result.steps:
        click.echo(f"  {step:<9} reached {reached:>6}   abandoned {abandoned:>6}")
    click.echo("\nSearches that found nothing (write these articles next):")
    for query, count in result.failed_searches or [("(none yet)", 0)]:
        click.echo(f"  {count:>5}  {query}")
    click.echo("\nArticles that solved problems most often:")
    for slug, count in result.deflecting_articles or [("(none yet)", 0)]:
        click.echo(f"  {count:>5}  {slug}")
    click.echo("\nArticles suggested most often:")
    for slug, count in result.shown_articles or [("(none yet)", 0)]:
        click.echo(f"  {count:>5}  {slug}")
