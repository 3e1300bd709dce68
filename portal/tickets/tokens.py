"""Signed, expiring, purpose-bound tokens (itsdangerous).

A token made for one purpose never verifies for another (each purpose is its own
salt), and it carries the id of exactly one thing. Filing links are single-use: the
pending request they name can become a ticket only once (a unique constraint).
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

FILE_REQUEST = "portal.file-request"
TICKET_STATUS = "portal.ticket-status"
STATUS_MAX_AGE = 60 * 60 * 24 * 365


class TokenError(ValueError):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def make(secret: str, purpose: str, value: str) -> str:
    return URLSafeTimedSerializer(secret, salt=purpose).dumps({"v": value})


def read(secret: str, purpose: str, token: str, max_age: int) -> str:
    serializer = URLSafeTimedSerializer(secret, salt=purpose)
    try:
        data: Any = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("This link has expired.", expired=True) from exc
    except BadSignature as exc:
        raise TokenError("This link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("v"), str):
        raise TokenError("This link is not valid.")
    return str(data["v"])
