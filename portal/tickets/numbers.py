"""Ticket numbers: short, readable, random (not a counter), e.g. T-7KQ3-M9XD."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
PATTERN = re.compile(r"^T-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def new_number() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"T-{chars[:4]}-{chars[4:]}"


def is_number(text: str) -> bool:
    return bool(PATTERN.match(text))
