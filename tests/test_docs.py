"""The README documents every setting and every CLI verb (a new one fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from portal.cli import main
from portal.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def _verbs() -> dict[str, click.Command]:
    verbs: dict[str, click.Command] = {}
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            verbs.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            verbs[name] = command
    return verbs


def _readme_rows(first_cell: str) -> dict[str, list[str]]:
    """README table rows whose first cell starts with ``first_cell``, by that cell."""
    rows = {}
    for line in README.splitlines():
        if line.startswith(f"| {first_cell}"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
            rows[cells[0]] = cells
    return rows


def test_every_setting_is_documented() -> None:
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert missing == []


def test_readme_settings_table_says_what_config_declares() -> None:
    """Each row of README's configuration table: the variable, its default and its
    meaning as portal/config.py declares them (``python -m portal.config`` prints the
    table), and no row for a variable that does not exist."""
    documented = {
        name: (default, meaning) for name, (_, default, meaning) in _readme_rows("`PORTAL_").items()
    }
    declared = {f"`{s.name}`": (s.documented_default, s.help) for s in SETTINGS}
    assert documented == declared


def test_every_cli_verb_is_documented() -> None:
    missing = [verb for verb in _verbs() if f"`portal {verb}" not in README]
    assert missing == []


def test_readme_verb_rows_show_exactly_each_verbs_options() -> None:
    """The synopsis in a verb's README row names the options the verb takes, all of
    them and no others (``--content``, ``--policy`` and ``--out`` included)."""
    synopses = {cell.strip("`"): cell for cell, *_ in _readme_rows("`portal ").values()}
    wrong = {}
    for verb, command in _verbs().items():
        synopsis = next(s for s in synopses if s.startswith(f"portal {verb}"))
        shown = set(re.findall(r"--[a-z][a-z-]*", synopsis))
        takes = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
        if shown != takes:
            wrong[verb] = (sorted(shown), sorted(takes))
    assert wrong == {}


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README and "make test" in README


def test_policy_reference_matches_the_schema() -> None:
    """docs/policy.md's key tables are what kb/policy/schema.py declares."""
    from kb.policy.reference import update_reference

    page = (Path(__file__).resolve().parent.parent / "docs/policy.md").read_text("utf-8")
    assert update_reference(page) == page, (
        "docs/policy.md is out of date: run `make policy-docs` "
        "(python -m kb.policy.reference --write docs/policy.md)"
    )
