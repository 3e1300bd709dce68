"""Text made safe for one line of a mail: a header, or a quoted description."""

from __future__ import annotations


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line: control characters (CR and LF included) become spaces,
    runs of white space one space; longer than ``limit`` characters, it is cut and
    ends with "…"."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
