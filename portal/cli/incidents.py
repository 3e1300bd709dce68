"""Known incidents and planned maintenance: incidents add, update, resolve, list."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import click

from portal.cli.common import open_database, pass_settings, policy_or_exit, printable
from portal.cli.staff import cli_actor
from portal.config import Settings


def _moment(value: str | None, zone: str) -> dt.datetime | None:
    """``--starts``/``--ends``: ISO 8601, in the provider's time zone unless it says."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date and time (2026-12-05T22:00)") from exc
    return moment.replace(tzinfo=zoneinfo.ZoneInfo(zone)) if moment.tzinfo is None else moment


@click.group()
def incidents() -> None:
    """Known incidents and planned maintenance, shown on /status, the home page and in
    the wizard."""


@incidents.command("add")
@click.argument("title")
@click.option("--services", default="", help="Affected services, comma-separated (email, web).")
@click.option("--servers", default="", help="Affected server names or ids, comma-separated.")
@click.option(
    "--kind", type=click.Choice(["incident", "maintenance"]), default="incident", show_default=True
)
@click.option(
    "--status",
    type=click.Choice(["investigating", "identified", "monitoring"]),
    default="investigating",
    show_default=True,
)
@click.option("--starts", default=None, help="Maintenance start (ISO; provider's time zone).")
@click.option("--ends", default=None, help="Maintenance end (ISO; provider's time zone).")
@click.option("--text", default="", help="The first public update.")
@pass_settings(policy=True)
def incidents_add(
    settings: Settings,
    title: str,
    services: str,
    servers: str,
    kind: str,
    status: str,
    starts: str | None,
    ends: str | None,
    text: str,
) -> None:
    """Post an incident or a maintenance window (maintenance mails the affected
    accounts' contacts once)."""
    from portal.incidents import store
    from portal.incidents.matching import parse_list

    policy = policy_or_exit(settings)
    zone = policy.provider.timezone
    with open_database(settings) as db:
        try:
            view = store.add(
                db,
                title=title,
                kind=kind,
                status=status,
                services=parse_list(services),
                servers=parse_list(servers),
                starts_at=_moment(starts, zone),
                ends_at=_moment(ends, zone),
                text=text,
                author=cli_actor().email,
                now=dt.datetime.now(dt.UTC),
            )
        except store.IncidentError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"incident {view.id} posted: {printable(view.title)} ({view.status_label})")


@incidents.command("update")
@click.argument("incident_id", type=int)
@click.option("--text", default="", help="What changed, as customers read it.")
@click.option(
    "--status",
    type=click.Choice(["investigating", "identified", "monitoring", "resolved"]),
    default=None,
)
@pass_settings()
def incidents_update(settings: Settings, incident_id: int, text: str, status: str | None) -> None:
    """Post a public update (``--status resolved`` resolves it)."""
    from portal.incidents import store

    with open_database(settings) as db:
        try:
            view = store.update(
                db,
                incident_id,
                text=text,
                status=status,
                author=cli_actor().email,
                now=dt.datetime.now(dt.UTC),
            )
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        except store.IncidentError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"incident {view.id}: {view.status_label}")


@incidents.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--text", default="", help="The last public update.")
@pass_settings()
def incidents_resolve(settings: Settings, incident_id: int, text: str) -> None:
    """Resolve an incident: everyone who asked "tell me when it's fixed" is mailed once."""
    from portal.incidents import store

    with open_database(settings) as db:
        try:
            view = store.resolve(
                db, incident_id, text=text, author=cli_actor().email, now=dt.datetime.now(dt.UTC)
            )
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        except store.IncidentError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"incident {view.id} resolved; {view.subscribers} to be told")


@incidents.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Resolved ones too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, nothing else.")
@pass_settings()
def incidents_list(settings: Settings, include_resolved: bool, as_json: bool) -> None:
    """Incidents and maintenance windows, newest first (open ones unless --all)."""
    from portal.incidents import store

    with open_database(settings) as db:
        rows = store.listing(db, include_resolved=include_resolved)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": v.id,
                        "kind": v.facts.kind,
                        "title": v.title,
                        "status": v.status,
                        "services": list(v.facts.services),
                        "servers": list(v.facts.servers),
                        "starts_at": v.facts.starts_at.isoformat() if v.facts.starts_at else None,
                        "ends_at": v.facts.ends_at.isoformat() if v.facts.ends_at else None,
                        "created_at": v.created_at.isoformat(),
                        "resolved_at": v.resolved_at.isoformat() if v.resolved_at else None,
                        "subscribers": v.subscribers,
                        "updates": [
                            {"at": u.at.isoformat(), "status": u.status, "text": u.text}
                            for u in v.updates
                        ],
                    }
                    for v in rows
                ],
                ensure_ascii=False,
            )
        )
        return
    if not rows:
        click.echo("no incidents")
    for v in rows:
        affects = ", ".join((*v.facts.servers, *v.facts.services))
        click.echo(
            f"{v.id:>4}  {v.facts.kind:<11}  {v.status:<13}  {printable(v.title)}  "
            f"[{printable(affects)}]  {v.subscribers} waiting"
        )
