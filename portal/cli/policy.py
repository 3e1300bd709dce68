"""Verbs about the support policy: triage."""

from __future__ import annotations

import datetime as dt
import json

import click

from portal.cli.common import built_searcher, pass_settings, policy_or_exit
from portal.config import Settings


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """--at: an ISO 8601 date-time, e.g. 2026-11-24T09:00+01:00."""
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-11-24T09:00+01:00") from None


@click.command()
@click.argument("text")
@click.option("--plan", default=None, help="Plan id (default: the policy's first plan).")
@click.option("--version", "product_version", default=None, help="Product version, e.g. 5.4.")
@click.option("--role", default=None, help="Contact role of the person asking.")
@click.option(
    "--at",
    default=None,
    callback=_moment,
    help="Filing time, ISO 8601 with offset (default: now), e.g. 2026-11-24T09:00+01:00.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /api/triage.")
@pass_settings(content=True, policy=True, out=True)
def triage(
    settings: Settings,
    text: str,
    plan: str | None,
    product_version: str | None,
    role: str | None,
    at: dt.datetime | None,
    as_json: bool,
) -> None:
    """Suggest request types for TEXT with coverage, cost, articles and response time."""
    from portal.policy.triage import TriageError, TriageRequest
    from portal.policy.triage import triage as run_triage

    policy, searcher = policy_or_exit(settings), built_searcher(settings)
    asked = TriageRequest(text=text, plan=plan, version=product_version, role=role, at=at)
    try:
        result = run_triage(policy, searcher, asked, synonyms=searcher.synonym_groups())
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
    elif result["first_response_text"]:
        click.echo(f"first response: {result['first_response_text']}")
        if result["support_opens_at"]:
            click.echo(f"support next opens: {result['support_opens_at']}")
    for article in result["articles"]:
        click.echo(f"article: {article['title']}  {article['url']}")
