"""Signed, expiring, purpose-bound tokens (itsdangerous).

A token made for one purpose never verifies for another (each purpose is its own
salt), and it carries the id of exactly one thing. Filing links are single-use: the
pending request they name can become a ticket only once (a unique constraint).

A ticket's status link also carries the ticket's link version: issuing a new link
raises the version, so older links stop working. The link is made once, when it is
issued; mails about the ticket repeat the same token (same moment of issue, same
expiry), which ``make`` can reproduce because signing is deterministic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

FILE_REQUEST = "portal.file-request"
TICKET_STATUS = "portal.ticket-status"


class TokenError(ValueError):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(secret: str, purpose: str, at: dt.datetime | None) -> URLSafeTimedSerializer:
    if at is None:
        return URLSafeTimedSerializer(secret, salt=purpose)
    stamp = int(at.timestamp())

    class IssuedAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret, salt=purpose, signer=IssuedAt)


def make(
    secret: str,
    purpose: str,
    value: str,
    *,
    version: int | None = None,
    at: dt.datetime | None = None,
) -> str:
    """A token for ``value``; issued now, or at ``at`` (the same ``at`` gives the same
    token again)."""
    payload: dict[str, Any] = {"v": value}
    if version is not None:
        payload["n"] = version
    return _serializer(secret, purpose, at).dumps(payload)


def read_versioned(secret: str, purpose: str, token: str, max_age: int) -> tuple[str, int]:
    """The value and link version of a token (0 for tokens made without a version)."""
    serializer = URLSafeTimedSerializer(secret, salt=purpose)
    try:
        data: Any = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("This link has expired.", expired=True) from exc
    except BadSignature as exc:
        raise TokenError("This link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("v"), str):
        raise TokenError("This link is not valid.")
    version = data.get("n", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TokenError("This link is not valid.")
    return str(data["v"]), version


def read(secret: str, purpose: str, token: str, max_age: int) -> str:
    return read_versioned(secret, purpose, token, max_age)[0]
