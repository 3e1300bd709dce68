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


OUT_OPTION = click.option(
    "--out",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build directory: site, search index (default: $PORTAL_BUILD_DIR or ./build).",
)
POLICY_OPTION = click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy file (default: $PORTAL_POLICY or <content>/policy.yaml).",
)


def printable(text: object) -> str:
    """Text from customers, safe for a terminal: control characters (escape sequences)
    become spaces."""
    return "".join(c if c.isprintable() or c == "\n" else " " for c in str(text))


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
    from portal.kb.building import load_settings_policy

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
@OUT_OPTION
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
    from portal.kb.building import build_options

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
@click.option(
    "--stale",
    is_flag=True,
    help="Also list articles not updated for $PORTAL_STALE_DAYS days (default 365).",
)
def check(
    content_dir: Path | None, output_format: str, policy_file: Path | None, stale: bool
) -> None:
    """Validate content and policy; print path:line: message per problem, exit 1 if any."""
    from kb.policy.directives import resolver
    from kb.policy.load import check_article_references
    from portal.kb.building import load_settings_policy

    settings = _settings(content_dir=content_dir, policy_file=policy_file)
    git_dates = None
    if stale:
        from kb.gitdates import last_commit_dates

        git_dates = last_commit_dates(settings.content_dir)
    content = content_mod.load(settings.content_dir, git_dates=git_dates)
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
    if stale:
        import datetime as dt

        from kb.problems import Problem

        today = dt.date.today()
        for a in content.articles:
            if a.updated is not None and (today - a.updated).days > settings.stale_days:
                problems.append(
                    Problem(
                        str(settings.content_dir / a.path),
                        a.line_of("updated"),
                        f"stale: last updated {a.updated.isoformat()} "
                        f"({(today - a.updated).days} days ago); review it and bump 'updated'",
                    )
                )
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
@OUT_OPTION
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
@click.option(
    "--reload",
    "live",
    is_flag=True,
    help="Live preview for editors: watch content, rebuild, reload open tabs; drafts shown.",
)
@CONTENT_OPTION
@POLICY_OPTION
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    live: bool,
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
    if live:
        # drafts never reach the public build: the preview has its own build directory
        os.environ["PORTAL_PREVIEW"] = "1"
        os.environ["PORTAL_BUILD_DIR"] = str(Settings.from_env().build_dir) + "-preview"
        workers = 1
    if not os.environ.get("PORTAL_SECRET_KEY"):
        # one key for every worker process, kept across restarts (var/secret_key)
        os.environ["PORTAL_SECRET_KEY"] = Settings.from_env().secret_key
    settings = _settings()
    if live:
        click.echo(
            f"Live preview of {settings.content_dir} on http://{host or settings.host}:"
            f"{port or settings.port}/ (drafts shown; pages reload when files change)"
        )
    uvicorn.run(
        "portal.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # trust X-Forwarded-For only from the proxies named in PORTAL_FORWARDED_ALLOW_IPS
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_level="info",
        # open event streams (live preview) must not hold a shutdown for long
        timeout_graceful_shutdown=3,
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
@OUT_OPTION
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
    from portal.policy.triage import TriageError, TriageRequest
    from portal.policy.triage import triage as run_triage

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


def _db_and_policy() -> tuple[Any, Any, Settings]:
    from portal.db.engine import Database

    settings = _settings()
    policy = _policy_or_exit(settings)
    db = Database(settings.database_url)
    db.upgrade()
    return db, policy, settings


@main.group()
def accounts() -> None:
    """The account directory: accounts, their contacts and servers (`--policy` on import)."""


@accounts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@POLICY_OPTION
def accounts_import(file: Path, policy_file: Path | None) -> None:
    """Import accounts from CSV or YAML (all or nothing; idempotent)."""
    from portal.db.engine import Database
    from portal.directory import importer as directory

    settings = _settings(policy_file=policy_file)
    policy = _policy_or_exit(settings)
    db = Database(settings.database_url)
    db.upgrade()
    result = directory.import_file(db, policy, file)
    if result.errors:
        for error in result.errors:
            click.echo(f"{file}:{error.removeprefix('line ')}", err=True)
        click.echo(f"{len(result.errors)} error(s): nothing was imported.", err=True)
        sys.exit(1)
    for label, ids in (("created", result.created), ("updated", result.updated)):
        for account_id in ids:
            click.echo(f"{label}: {account_id}")
    click.echo(result.summary())


@main.group()
def uploads() -> None:
    """Uploaded screenshots: remove what no draft, request or ticket holds any more."""


@uploads.command("prune")
@click.option(
    "--older-than",
    "hours",
    type=click.FloatRange(0),
    default=24.0,
    show_default=True,
    help="Forget wizard drafts not touched for this many hours, with their uploads.",
)
def uploads_prune(hours: float) -> None:
    """Delete stale drafts' uploads, uploads nothing references and stray files.
    Ticket attachments are kept. The running portal does the same every hour."""
    import datetime as dt

    from portal.db.engine import Database
    from portal.wizard import uploads as store

    settings = _settings()
    db = Database(settings.database_url)
    db.upgrade()
    report = store.prune(
        db,
        settings.upload_dir,
        older_than=dt.timedelta(hours=hours),
        verify_max_age=settings.verify_max_age,
        now=dt.datetime.now(dt.UTC),
    )
    click.echo(report.summary())


@main.group()
@POLICY_OPTION
def tickets(policy_file: Path | None) -> None:
    """Staff tools: list, show and update tickets; the outbox; the audit log."""
    if policy_file is not None:
        import os

        os.environ["PORTAL_POLICY"] = str(policy_file)


@tickets.command("list")
@click.option("--status", default=None, help="Only tickets with this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def tickets_list(status: str | None, limit: int) -> None:
    """The newest tickets."""
    from portal.tickets import queries

    db, _policy, _ = _db_and_policy()
    rows = queries.list_tickets(db, status=status, limit=limit)
    for t in rows:
        due = t.due_at.isoformat(timespec="minutes") if t.due_at else "-"
        click.echo(
            printable(
                f"{t.number}  {t.status:<20} {t.priority:<8} due {due:<25} "
                f"{t.account_id}  {t.title}"
            )
        )
    if not rows:
        click.echo("no tickets")


@tickets.command("show")
@click.argument("number")
def tickets_show(number: str) -> None:
    """One ticket with its history."""
    from portal.tickets import queries

    db, _policy, _ = _db_and_policy()
    view = queries.load_ticket(db, number)
    if view is None:
        raise click.ClickException(f"no ticket {number}")
    click.echo(
        printable(json.dumps(queries.ticket_payload(view.ticket), indent=2, ensure_ascii=False))
    )
    for event in view.events:
        status = f" {event.status}" if event.status else ""
        click.echo(
            printable(
                f"{event.at.isoformat(timespec='minutes')}  {event.kind}{status} "
                f"({event.author}) {event.note}"
            )
        )


@tickets.command("set-status")
@click.argument("number")
@click.argument("status")
@click.option("--note", default="", help="Message for the customer.")
def tickets_set_status(number: str, status: str, note: str) -> None:
    """Change a ticket's status; the customer is emailed."""
    import datetime as dt

    from portal.tickets import updates

    db, policy, settings = _db_and_policy()
    try:
        updates.set_status(db, policy, settings, number, status, note, now=dt.datetime.now(dt.UTC))
    except (ValueError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{number}: {status}")


@tickets.command("reject-emergency")
@click.argument("number")
@click.option("--note", required=True, help="Why it is not an emergency (sent to the customer).")
def tickets_reject_emergency(number: str, note: str) -> None:
    """An accepted emergency that is not one: back to an ordinary priority, counted for
    the abuse rule; the customer is emailed the policy's definition and what happens next."""
    import datetime as dt

    from portal.tickets import updates

    db, policy, settings = _db_and_policy()
    try:
        ticket = updates.reject_emergency(
            db, policy, settings, number, note, now=dt.datetime.now(dt.UTC)
        )
    except (ValueError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    due = ticket.due_at.isoformat(timespec="minutes") if ticket.due_at else "-"
    click.echo(f"{number}: not an emergency; priority {ticket.priority}, due {due}")


@tickets.command("outbox")
@click.option("--all", "show_all", is_flag=True, help="Include delivered messages.")
@click.option("--deliver", is_flag=True, help="Try to deliver what is due now.")
def tickets_outbox(show_all: bool, deliver: bool) -> None:
    """Mail and webhooks waiting to be delivered (and their last error)."""
    from portal.notify.transport import mailer_for
    from portal.tickets import outbox

    db, policy, settings = _db_and_policy()
    if deliver:
        deliverer = outbox.Deliverer(
            db,
            mailer_for(settings.smtp_url),
            sender=settings.mail_from,
            sender_name=f"{policy.provider.name} support",
            webhook_secret=settings.webhook_secret,
        )
        result = deliverer.deliver_due()
        click.echo(f"delivered {result.delivered}, failed {result.failed}")
    rows = outbox.pending(db, include_delivered=show_all)
    for row in rows:
        state = "delivered" if row.delivered_at else f"attempts {row.attempts}"
        error = f"  last error: {row.last_error}" if row.last_error and not row.delivered_at else ""
        click.echo(
            f"#{row.id} {row.kind:<7} {row.purpose:<12} {row.ticket_number or '-':<11} "
            f"{row.recipient}  {state}{error}"
        )
    if not rows:
        click.echo("outbox is empty")


@tickets.command("audit")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def tickets_audit(limit: int) -> None:
    """Refused attempts: unlisted senders, contacts asking beyond their role."""
    from portal.tickets import queries

    db, _policy, _ = _db_and_policy()
    for entry in queries.audit_entries(db, limit):
        click.echo(
            printable(
                f"{entry.at.isoformat(timespec='seconds')}  {entry.kind:<16} "
                f"{entry.account_id:<12} {entry.email}  {entry.detail}"
            )
        )


@main.command()
@click.argument("title")
@click.option("--category", required=True, help="Category folder, e.g. hosting.")
@CONTENT_OPTION
def new(title: str, category: str, content_dir: Path | None) -> None:
    """Create an article with complete front matter (as a draft) and print its path."""
    import datetime as dt

    from kb.scaffold import new_article

    settings = _settings(content_dir=content_dir)
    try:
        path, slug = new_article(settings.content_dir, title, category, today=dt.date.today())
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {path}")
    click.echo(f"preview: {settings.base_url}articles/{slug}.html  (run `portal serve --reload`)")
