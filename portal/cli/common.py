"""What the verbs share: the --content/--policy/--out options and the settings they
stand for, the policy, the database, and text that is safe for a terminal.

Domain modules are imported inside the functions that need them, so ``portal --help``
and ``portal new`` start without loading the web app, the database or the policy
engine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from portal.config import SETTINGS_FILE, SettingError, Settings

if TYPE_CHECKING:
    from kb.policy import Policy
    from kb.search import Searcher
    from portal.db.engine import Database

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
OUT_OPTION = click.option(
    "--out",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build directory: site, search index (default: $PORTAL_BUILD_DIR or ./build).",
)
# the variable each option stands for
OPTION_VARIABLES = {
    "content_dir": "PORTAL_CONTENT_DIR",
    "policy_file": "PORTAL_POLICY",
    "build_dir": "PORTAL_BUILD_DIR",
}
# a group's --policy (``portal tickets --policy FILE list``), for its subcommands
GROUP_POLICY = "portal.policy_file"


def read_settings(
    *,
    content_dir: Path | None = None,
    policy_file: Path | None = None,
    build_dir: Path | None = None,
) -> Settings:
    """The settings the server reads (the ``PORTAL_*`` environment), read once, with
    the options given in place of the variables they stand for. The environment
    itself is left as it is."""
    given = {"content_dir": content_dir, "policy_file": policy_file, "build_dir": build_dir}
    overlay = {OPTION_VARIABLES[k]: str(v) for k, v in given.items() if v is not None}
    environ = {**os.environ, **overlay}
    # the same settings file as the server: PORTAL_SETTINGS_FILE, else ./portal.env
    default_file = SETTINGS_FILE.default
    if not environ.get(SETTINGS_FILE.name, "").strip() and Path(default_file).is_file():
        environ[SETTINGS_FILE.name] = default_file
    try:
        return Settings.from_env(environ)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from exc


def pass_settings(
    *, content: bool = False, policy: bool = False, out: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give the command the options asked for (--content, --policy, --out) and call it
    with ``settings=`` (:func:`read_settings`) instead of them.

    The verbs without --content work on the database: the links in what they mail or
    print go where ``portal serve`` serves for that database (``portal/served.py``)
    unless PORTAL_BASE_URL names an address. The content verbs (``build``, ``check``,
    ``new``, ``search``, ``triage``, ``serve`` itself) never open the database."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(
            *args: Any,
            content_dir: Path | None = None,
            policy_file: Path | None = None,
            build_dir: Path | None = None,
            **kwargs: Any,
        ) -> None:
            group_policy: Path | None = click.get_current_context().meta.get(GROUP_POLICY)
            settings = read_settings(
                content_dir=content_dir,
                policy_file=policy_file or group_policy,
                build_dir=build_dir,
            )
            if not content:
                from portal import served

                settings = settings.served_at(served.recorded(settings))
            command(*args, settings=settings, **kwargs)

        for wanted, option in (
            (out, OUT_OPTION),
            (policy, POLICY_OPTION),
            (content, CONTENT_OPTION),
        ):
            if wanted:
                run = option(run)
        return run

    return decorate


def policy_or_exit(settings: Settings) -> Policy:
    """The settings' policy; its problems (or that it is missing) and exit 1 if none."""
    from portal.kb.building import load_settings_policy

    policy, problems = load_settings_policy(settings)
    if problems or policy is None:
        for problem in problems:
            click.echo(str(problem), err=True)
        if policy is None and not problems:
            click.echo(f"no policy file at {settings.policy_file}", err=True)
        sys.exit(1)
    return policy


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The settings' database, migrated to the current schema."""
    from portal.db.engine import Database

    db = Database(settings.database_url)
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()


def built_searcher(settings: Settings) -> Searcher:
    """Search in the settings' build directory, built first when it has no valid build."""
    from kb import layout
    from kb.search import Searcher
    from portal.app import ensure_built

    ensure_built(settings)
    return Searcher(lambda: layout.index_dir(settings.build_dir))


def printable(text: object) -> str:
    """Text from customers, safe for a terminal: control characters (escape sequences)
    become spaces."""
    return "".join(c if c.isprintable() or c == "\n" else " " for c in str(text))
