"""Where the templates and static files are found: the one place that knows.

The builder (``kb.build``), the portal's Jinja environment, its ``/static`` mount and
its e-mail templates (``portal.notify``) all take their directories from here. In the
repository they are the top-level ``templates/`` and ``static/``; the wheel ships them
as ``kb/_data/templates`` and ``kb/_data/static`` (hatch ``force-include`` in
pyproject.toml). :func:`resource_dir` looks in ``kb/_data/`` first, then at the
repository root, so an installed package and a checkout (editable or not) both work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
PACKAGE_DATA = PACKAGE_DIR / "_data"
SEARCH_ROOTS: tuple[Path, ...] = (PACKAGE_DATA, PROJECT_ROOT)


def resource_dir(name: str, roots: Sequence[Path] = SEARCH_ROOTS) -> Path:
    """``root/name`` for the first root that has such a directory; when none has
    it, the last root's (so an error names the repository layout)."""
    if not roots:
        raise ValueError("resource_dir needs at least one root")
    for root in roots:
        candidate = root / name
        if candidate.is_dir():
            return candidate
    return roots[-1] / name


DEFAULT_TEMPLATES = resource_dir("templates")
DEFAULT_STATIC = resource_dir("static")
