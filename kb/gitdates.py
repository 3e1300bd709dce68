"""Last git commit date of every file under a directory, in one ``git log`` call."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path


def last_commit_dates(directory: Path) -> dict[str, dt.date]:
    """Map paths relative to ``directory`` (posix) to the date of their last commit.

    Returns an empty mapping outside a git work tree or when git is missing.
    """
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        log = subprocess.run(
            ["git", "log", "--format=%x00%cs", "--name-only", "--", "."],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    base = Path(top).resolve()
    prefix = directory.resolve().relative_to(base).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    dates: dict[str, dt.date] = {}
    current: dt.date | None = None
    for line in log.splitlines():
        if line.startswith("\x00"):
            try:
                current = dt.date.fromisoformat(line[1:].strip())
            except ValueError:
                current = None
        elif line and current is not None and line.startswith(prefix):
            dates.setdefault(line[len(prefix) :], current)
    return dates
