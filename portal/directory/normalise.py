"""Account ids as customers type them: one comparison key for every spelling.

``hh-10234``, ``HH10234`` and `` hh 10234 `` all name account ``HH-10234``: case,
white space and hyphens do not count when an account id is matched (the directory
keeps the id as it was imported). Pure functions, no I/O.
"""

from __future__ import annotations

import re

_IGNORED = re.compile(r"[\s\-\u2010-\u2015\u2212]+")  # white space, hyphens and dashes
_KEY = re.compile(r"[A-Z0-9][A-Z0-9._]{0,39}")


def account_key(text: str) -> str:
    """The comparison key of an account id: upper case, without white space, hyphens
    or dashes ("" when nothing is left)."""
    return _IGNORED.sub("", text).upper()


def looks_like_account(text: str) -> bool:
    """Whether ``text`` could be an account id once normalised (letters, digits, dots
    and underscores, 2 to 40 of them)."""
    key = account_key(text)
    return len(key) >= 2 and _KEY.fullmatch(key) is not None
