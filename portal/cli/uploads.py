"""Verbs about uploaded screenshots: uploads prune."""

from __future__ import annotations

import datetime as dt

import click

from portal.cli.common import open_database, pass_settings
from portal.config import Settings


@click.group()
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
@pass_settings()
def uploads_prune(settings: Settings, hours: float) -> None:
    """Delete stale drafts' uploads, uploads nothing references and stray files.
    Ticket attachments are kept. The running portal does the same every hour."""
    from portal.wizard.uploads import prune

    with open_database(settings) as db:
        report = prune(
            db,
            settings.upload_dir,
            older_than=dt.timedelta(hours=hours),
            verify_max_age=settings.verify_max_age,
            now=dt.datetime.now(dt.UTC),
        )
    click.echo(report.summary())
