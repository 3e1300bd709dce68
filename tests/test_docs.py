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
    missing = [name for name in main.commands if f"`portal {name}" not in README]
    assert missing == []


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README and "make test" in README
