"""The README documents every setting and every CLI verb (a new one fails here)."""

from __future__ import annotations

from pathlib import Path

from portal.cli import main
from portal.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_every_setting_is_documented() -> None:
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert missing == []


def test_every_cli_verb_is_documented() -> None:
    import click

    verbs = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            verbs += [f"{name} {sub}" for sub in command.commands]
        else:
            verbs.append(name)
    missing = [verb for verb in verbs if f"`portal {verb}" not in README]
    assert missing == []


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README and "make test" in README
