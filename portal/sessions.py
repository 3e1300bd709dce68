"""Anonymous browser sessions and CSRF protection.

Every visitor gets a random session id in a signed, HttpOnly, SameSite=Lax cookie. The
CSRF token of a session is an HMAC of its id, so it needs no storage; every
state-changing form and htmx request carries it (field ``csrf_token`` or header
``X-CSRF-Token``) and is refused with 403 when it does not match.

A view rotates the id with ``rotate(request)`` when the session starts to hold
something worth stealing (the wizard: when an e-mail address or account is entered,
and after sending): the middleware then sends the new id, so a cookie planted in the
victim's browser before that moment is worth nothing afterwards (session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "portal_session"
MAX_AGE = 60 * 60 * 24 * 30


class SessionMiddleware:
    def __init__(self, app: ASGIApp, *, secret_key: str, https: bool = False) -> None:
        self.app = app
        self.serializer = URLSafeSerializer(secret_key, salt="portal.session")
        self.https = https
        # behind HTTPS the __Host- prefix pins the cookie to this host, path / and Secure
        self.cookie = "__Host-" + COOKIE if https else COOKIE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sid = None
        cookie_header = next((v for k, v in scope["headers"] if k == b"cookie"), b"")
        if cookie_header:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie_header.decode("latin-1"))
            except Exception:  # a malformed Cookie header: treat as no cookie
                jar = SimpleCookie()
            if self.cookie in jar:
                try:
                    value = self.serializer.loads(jar[self.cookie].value)
                    sid = value if isinstance(value, str) and len(value) >= 32 else None
                except BadSignature:
                    sid = None
        new = sid is None
        if sid is None:
            sid = secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        state["sid"] = sid

        async def send_with_cookie(message: Message) -> None:
            # the id the view ended with: rotate() may have replaced it
            current = state.get("sid", sid)
            if message["type"] == "http.response.start" and (new or current != sid):
                headers = MutableHeaders(scope=message)
                flags = f"Max-Age={MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
                if self.https:
                    flags += "; Secure"
                value = self.serializer.dumps(current)
                headers.append("Set-Cookie", f"{self.cookie}={value}; {flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session_id(request: Request) -> str:
    sid: str = request.state.sid
    return sid


def rotate(request: Request) -> tuple[str, str]:
    """Give this browser a new session id from this response on; returns (old, new).
    The caller moves what the old id owned (``drafts.move``); pages rendered after
    this carry the new id's CSRF token."""
    old = session_id(request)
    new = secrets.token_urlsafe(32)
    request.state.sid = new
    return old, new


def csrf_token(request: Request) -> str:
    secret = request.app.state.settings.secret_key.encode()
    return hmac.new(secret, b"csrf:" + session_id(request).encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise 403 unless the submitted token (form field or header) is this session's."""
    token = submitted or request.headers.get("x-csrf-token", "")
    if not token or not hmac.compare_digest(token, csrf_token(request)):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
