"""Verbs about the account directory: accounts import."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from portal.cli.common import open_database, pass_settings, policy_or_exit
from portal.config import Settings


@click.group()
def accounts() -> None:
    """The account directory: accounts, their contacts and servers."""


@accounts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_settings(policy=True)
def accounts_import(settings: Settings, file: Path) -> None:
    """Import accounts from CSV or YAML (all or nothing; idempotent)."""
    from portal.directory import importer

    policy = policy_or_exit(settings)
    with open_database(settings) as db:
        result = importer.import_file(db, policy, file)
    if result.errors:
        for error in result.errors:
            click.echo(f"{file}:{error.removeprefix('line ')}", err=True)
        click.echo(f"{len(result.errors)} error(s): nothing was imported.", err=True)
        sys.exit(1)
    for label, ids in (("created", result.created), ("updated", result.updated)):
        for account_id in ids:
            click.echo(f"{label}: {account_id}")
    click.echo(result.summary())
