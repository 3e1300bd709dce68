"""What every view needs from a request, in one place: the clock, the database, the
settings, the policy, the knowledge base, the client's address; and one reader for
JSON request bodies, with the same limits on size and nesting for every JSON API, so
no body can make the parser (or anything after it) recurse without bound.

Views never read ``request.app.state`` themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

if TYPE_CHECKING:
    from kb.policy import Policy
    from portal.config import Settings
    from portal.db.engine import Database
    from portal.kb.preview import Preview
    from portal.kb.store import KnowledgeBase


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def knowledge(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def preview(request: Request) -> Preview | None:
    value: Preview | None = request.app.state.preview
    return value


def policy(request: Request) -> Policy:
    """The current policy; 503 (a page, or JSON under /api/) when the portal has none."""
    value: Policy | None = request.app.state.policy.get()
    if value is None:
        raise HTTPException(503, "This portal has no support policy configured.")
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wake_outbox(request: Request) -> None:
    """Tell the outbox worker that something was queued."""
    event = getattr(request.app.state, "outbox_wake", None)
    if event is not None:
        event.set()


MAX_DEPTH = 16  # the deepest API body is 2 levels (an object holding "details")


class BodyError(Exception):
    """A body that cannot be used, with the status and message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def nesting_depth(body: bytes, limit: int) -> int:
    """The deepest nesting of arrays and objects in ``body`` (a JSON text), counted
    outside strings; stops counting once ``limit`` is passed. Linear, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


async def read_json(
    request: Request,
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    media_type: str | None = "application/json",
    invalid_status: int = 400,
) -> Any:
    """The parsed JSON body, or BodyError: 415 for another media type (when
    ``media_type`` is given), 413 past ``max_bytes`` (counted while the body streams
    in), ``invalid_status`` for a body that is not JSON or nests deeper than
    ``max_depth``."""
    if media_type is not None:
        sent = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if sent != media_type:  # cross-site forms cannot send application/json
            raise BodyError(415, f"send Content-Type: {media_type}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyError(413, "request body too large")
    if not body.strip():
        raise BodyError(invalid_status, "the body is empty: send a JSON object")
    if nesting_depth(bytes(body), max_depth) > max_depth:
        raise BodyError(
            invalid_status, f"the body nests arrays and objects more than {max_depth} levels deep"
        )
    try:
        return json.loads(bytes(body))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BodyError(invalid_status, "the body is not valid JSON") from exc
