"""Which characters the portal accepts from anyone, in every form field and every JSON
string. Pure functions, no I/O.

Refused everywhere: lone surrogates (they cannot be encoded, so mail, SQLite and the
helpdesk would fail on them later), NUL and every other C0 and C1 control character,
and DEL. Multi-line fields (descriptions, error messages, comments) also take tab and
newline (CR, LF). Single-line fields (addresses, account ids, names, versions, and
every hidden field) refuse in addition the bidi controls that reorder what a reader
sees (U+202A–U+202E, U+2066–U+2069, the marks U+200E, U+200F, U+061C) and the Unicode
line and paragraph separators (U+2028, U+2029), which would start a new line in a
plain-text mail. In multi-line text, bidi controls are kept: people writing Arabic or
Hebrew use them, and a description is shown and mailed as a block of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

MULTILINE_OK = frozenset("\t\n\r")
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
LINE_SEPARATORS = frozenset("\u2028\u2029")


def _control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as a sentence for the person who typed it, or None."""
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"This contains an invalid character (a lone surrogate, U+{code:04X}); "
                "please type or paste the text again."
            )
        if _control(char):
            if multiline and char in MULTILINE_OK:
                continue
            if char in MULTILINE_OK:
                return "This must be on one line: remove the line breaks and tabs."
            return (
                f"This contains a control character (U+{code:04X}) that we cannot accept; "
                "remove it."
            )
        if not multiline and char in BIDI_CONTROLS:
            return (
                f"This contains a text-direction control character (U+{code:04X}) that "
                "changes how the text is shown; remove it."
            )
        if not multiline and char in LINE_SEPARATORS:
            return "This must be on one line: remove the line breaks."
    return None


def printable_name(name: str) -> str:
    """A field name or JSON key as it can be shown back (escapes instead of controls)."""
    if problem(name) is None:
        return name
    return "".join(
        c if problem(c) is None else c.encode("unicode_escape").decode("ascii") for c in name
    )


def check_fields(
    fields: Iterable[tuple[str, str]], *, multiline: Callable[[str], bool] = lambda _name: False
) -> dict[str, str]:
    """Field name -> what is wrong, for every field (and field name) that is refused;
    ``fields`` are (name, value) pairs, so a repeated field is checked every time."""
    errors: dict[str, str] = {}
    for name, value in fields:
        shown = printable_name(name)
        if shown != name:
            errors[shown] = "This field's name contains characters that we cannot accept."
            continue
        found = problem(value, multiline=multiline(name))
        if found:
            errors[name] = found
    return errors


def check_json(
    value: Any, *, multiline: Callable[[str], bool] = lambda _path: False, path: str = ""
) -> dict[str, str]:
    """Every string in a parsed JSON value, keys included, recursively. Returns
    path -> what is wrong, where a path is ``text``, ``details.doing`` or ``tags[2]``.
    The caller bounds the depth (``portal.http.read_json``)."""
    errors: dict[str, str] = {}
    if isinstance(value, str):
        found = problem(value, multiline=multiline(path))
        if found:
            errors[path or "(body)"] = found
    elif isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            shown = printable_name(key_text)
            child = f"{path}.{shown}" if path else shown
            if shown != key_text:
                errors[child] = "This field's name contains characters that we cannot accept."
                continue
            errors.update(check_json(item, multiline=multiline, path=child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors.update(check_json(item, multiline=multiline, path=f"{path}[{index}]"))
    return errors
