"""The ``portal`` command: one click group; each verb is a few lines in the module of
its domain (``portal/cli/<domain>.py``) calling ``kb`` or a ``portal`` package.

Every verb reads the settings the server reads (``PORTAL_*``, see
``portal.config``) once; ``--content``, ``--policy`` and ``--out`` take the place of
``PORTAL_CONTENT_DIR``, ``PORTAL_POLICY`` and ``PORTAL_BUILD_DIR`` for that run.
"""

from __future__ import annotations

import click

from portal.cli import (
    directory,
    incidents,
    kb,
    notices,
    policy,
    serve,
    staff,
    ticket_actions,  # noqa: F401 - registers the console's ticket verbs
    tickets,
    uploads,
)
from portal.cli.common import printable

__all__ = ["main", "printable"]


@click.group()
@click.version_option(package_name="support-portal")
def main() -> None:
    """Support Portal: knowledge base, support policy and request wizard."""


for command in (
    kb.build,
    kb.check,
    kb.search,
    serve.serve,
    policy.triage,
    kb.report,
    directory.accounts,
    uploads.uploads,
    tickets.tickets,
    staff.staff,
    incidents.incidents,
    notices.notices,
    kb.new,
):
    main.add_command(command)
