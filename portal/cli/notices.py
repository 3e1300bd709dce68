"""Scheduled notices: notices list, cancel, reschedule, schedule-cancellation, send."""

from __future__ import annotations

import datetime as dt

import click

from portal.cli.common import open_database, pass_settings, policy_or_exit, printable
from portal.config import Settings


def _day_or_moment(value: str) -> dt.date | dt.datetime:
    try:
        if "T" in value or " " in value:
            moment = dt.datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or time") from exc


@click.group()
def notices() -> None:
    """Scheduled notices (server cancellations and their warnings, plan endings,
    reminders, maintenance and incident mails), each sent once when due."""


@notices.command("list")
@click.option("--all", "everything", is_flag=True, help="Sent, cancelled and void ones too.")
@click.option("--kind", default=None, help="Only this kind, e.g. cancellation_warning.")
@pass_settings()
def notices_list(settings: Settings, everything: bool, kind: str | None) -> None:
    """Notices by due time (the scheduled ones unless --all)."""
    from portal.notices import store

    with open_database(settings) as db:
        rows = store.listing(db, state=None if everything else "scheduled", kind=kind)
    if not rows:
        click.echo("no notices")
    for n in rows:
        about = (
            n.ticket_number or n.server_id or (f"incident {n.incident_id}" if n.incident_id else "")
        )
        click.echo(
            f"{n.id:>5}  {n.due_at:%Y-%m-%d %H:%M} UTC  {n.state:<9}  {n.kind:<20}  "
            f"{printable(n.account_id)}  {printable(about)}  {printable(n.recipient)}"
        )


@notices.command("cancel")
@click.argument("notice_id", type=int)
@pass_settings()
def notices_cancel(settings: Settings, notice_id: int) -> None:
    """Discard a scheduled notice (a server cancellation: with its warning)."""
    from portal.notices import store

    with open_database(settings) as db:
        try:
            ids = store.cancel(db, notice_id, now=dt.datetime.now(dt.UTC))
        except (LookupError, store.NoticeError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo("cancelled " + ", ".join(str(i) for i in ids))


@notices.command("reschedule")
@click.argument("notice_id", type=int)
@click.argument("when")
@pass_settings(policy=True)
def notices_reschedule(settings: Settings, notice_id: int, when: str) -> None:
    """Move a scheduled notice to WHEN (a date, or an ISO time). For a server's
    cancellation WHEN is its new last day: any date (staff), and its warning moves too."""
    from portal.notices import store

    policy = policy_or_exit(settings)
    with open_database(settings) as db:
        try:
            notice = store.reschedule(
                db, policy, notice_id, _day_or_moment(when), now=dt.datetime.now(dt.UTC)
            )
        except (LookupError, store.NoticeError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"notice {notice.id} due {notice.due_at:%Y-%m-%d %H:%M} UTC")


@notices.command("schedule-cancellation")
@click.argument("account")
@click.argument("server")
@click.option(
    "--on",
    "on",
    default=None,
    help="The last day (YYYY-MM-DD), any date; default: the end of the billing period.",
)
@pass_settings(policy=True)
def notices_schedule_cancellation(
    settings: Settings, account: str, server: str, on: str | None
) -> None:
    """Schedule SERVER's cancellation (name or id) at the end of its billing period
    (the directory's billing_ends) or --on a date, with the policy's warning."""
    from portal.notices import store

    policy = policy_or_exit(settings)
    day = None
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError as exc:
            raise click.BadParameter(f"{on!r} is not a date (YYYY-MM-DD)") from exc
    with open_database(settings) as db:
        try:
            done = store.schedule_cancellation(
                db, policy, account, server, on=day, now=dt.datetime.now(dt.UTC)
            )
        except (LookupError, store.NoticeError) as exc:
            raise click.ClickException(str(exc)) from exc
    n = done.cancellation
    click.echo(f"notice {n.id}: {n.data['server_name']} cancelled after {n.data['last_day']}")
    if done.warning_at is not None:
        click.echo(f"warning due {done.warning_at:%Y-%m-%d %H:%M} UTC")
    else:
        click.echo(
            "no warning: the policy gives no number of days (notices.cancellation_warning_days)"
        )


@notices.command("send")
@pass_settings(policy=True)
def notices_send(settings: Settings) -> None:
    """Queue the due notices' mail in the outbox now, as the running portal does."""
    from portal.notices import drain, scan

    policy = policy_or_exit(settings)
    now = dt.datetime.now(dt.UTC)
    with open_database(settings) as db:
        scanned = scan.run(db, policy, now=now)
        report = drain.drain_all(db, policy, settings, now=now)
    click.echo(f"{scanned.scheduled} scheduled, {report.sent} sent, {report.void} void")
