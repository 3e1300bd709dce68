"""``portal serve``."""

from __future__ import annotations

import click

from portal.cli.common import open_database, pass_settings
from portal.config import Settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: $PORTAL_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: $PORTAL_PORT).")
@click.option("--workers", type=int, default=1, show_default=True)
@click.option(
    "--reload",
    "live",
    is_flag=True,
    help="Live preview for editors: watch content, rebuild, reload open tabs; drafts shown.",
)
@pass_settings(content=True, policy=True, out=True)
def serve(settings: Settings, host: str | None, port: int | None, workers: int, live: bool) -> None:
    """Serve the portal with uvicorn (builds the knowledge base first if needed)."""
    from portal import serving

    # the options stand in for PORTAL_HOST and PORTAL_PORT; an unset PORTAL_BASE_URL
    # (links in mail and the sitemap) follows them
    settings = settings.serving(host, port)
    if live:
        settings = serving.live_preview(settings)
        click.echo(
            f"Live preview of {settings.content_dir} on http://{settings.host}:{settings.port}/ "
            "(drafts shown; pages reload when files change)"
        )
    else:
        # the other verbs' mail links here too (a preview, with its drafts, never does)
        _record_served(settings)
    serving.run(settings, workers=1 if live else workers)


def _record_served(settings: Settings) -> None:
    """Record the base URL served in the database, for the verbs' mail; a database
    that cannot be reached now is not fatal (the server retries its migrations)."""
    from sqlalchemy.exc import SQLAlchemyError

    from portal import served

    try:
        with open_database(settings) as db:
            served.record(db, settings.base_url)
    except (SQLAlchemyError, OSError) as exc:
        click.echo(
            f"warning: could not record the address served ({exc.__class__.__name__}): "
            "mail sent by other verbs links to their own PORTAL_BASE_URL",
            err=True,
        )
