"""Signed-in customers: a server-side row per sign-in, bound to one contact of one
account, found by a random token in an HttpOnly, SameSite=Lax cookie.

The row's id is a keyed hash of the token (the database never holds the token), it
expires after ``PORTAL_SIGNIN_DAYS``, and signing out deletes it ("everywhere":
every row of the address). A row whose contact is no longer listed signs nobody in.
A second cookie binds a pending sign-in to the browser that asked for it
(``portal.accounts.signin``). Behind HTTPS both cookies carry the ``__Host-`` prefix
and ``Secure``, like the anonymous session's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from portal import http
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import CustomerSession
from portal.directory.importer import Sender, find_sender

SESSION_COOKIE = "portal_account"
PENDING_COOKIE = "portal_signin"
PENDING_MAX_AGE = 15 * 60


@dataclass(frozen=True)
class Customer:
    """A signed-in contact, as the directory knows them now."""

    session_id: str  # the row's id (a hash of the cookie's token)
    sender: Sender

    @property
    def account_id(self) -> str:
        return self.sender.account_id

    @property
    def email(self) -> str:
        return self.sender.email

    @property
    def name(self) -> str:
        return self.sender.name


def _row_id(settings: Settings, token: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), f"customer-session:{token}".encode(), hashlib.sha256
    ).hexdigest()


def create(
    session: Session, settings: Settings, *, account_id: str, email: str, now: dt.datetime
) -> str:
    """A new signed-in session (in the caller's transaction); returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    session.add(
        CustomerSession(
            id=_row_id(settings, token),
            account_id=account_id,
            email=email,
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.signin_days),
        )
    )
    session.flush()
    return token


def find(db: Database, settings: Settings, token: str, now: dt.datetime) -> Customer | None:
    """The signed-in customer of a cookie's token, if its row is live and the contact
    is still listed on the account."""
    if not token or len(token) > 100:
        return None
    row_id = _row_id(settings, token)
    with db.session() as session:
        row = session.get(CustomerSession, row_id)
        if row is None:
            return None
        if row.expires_at <= now:
            session.delete(row)
            return None
        account_id, email = row.account_id, row.email
    sender = find_sender(db, account_id, email)
    if sender is None or sender.account_id != account_id:
        end(db, settings, token)
        return None
    return Customer(row_id, sender)


def end(db: Database, settings: Settings, token: str) -> None:
    """Sign out this browser."""
    with db.session() as session:
        session.execute(
            delete(CustomerSession).where(CustomerSession.id == _row_id(settings, token))
        )


def end_everywhere(db: Database, email: str) -> int:
    """Sign out every browser signed in with this address (on any account)."""
    with db.session() as session:
        result = session.execute(delete(CustomerSession).where(CustomerSession.email == email))
        return int(getattr(result, "rowcount", 0) or 0)


def count_for(db: Database, email: str, now: dt.datetime) -> int:
    with db.session() as session:
        rows = session.scalars(
            select(CustomerSession.id).where(
                CustomerSession.email == email, CustomerSession.expires_at > now
            )
        )
        return len(list(rows))


# --- cookies and the request -------------------------------------------------------------


def cookie_name(settings: Settings, name: str) -> str:
    return "__Host-" + name if settings.https else name


def cookie(request: Request, name: str) -> str:
    return request.cookies.get(cookie_name(http.settings(request), name), "")


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        cookie_name(settings, name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.https,
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        cookie_name(settings, name), path="/", httponly=True, samesite="lax", secure=settings.https
    )


def sign_in_response(response: Response, settings: Settings, token: str) -> Response:
    """The sign-in cookie for a new session; the pending sign-in's cookie is done."""
    set_cookie(response, settings, SESSION_COOKIE, token, settings.signin_days * 86400)
    clear_cookie(response, settings, PENDING_COOKIE)
    return response


async def current(request: Request) -> Customer | None:
    """The signed-in customer of this request (looked up once per request)."""
    if "customer" in request.state._state:
        found: Customer | None = request.state.customer
        return found
    token = cookie(request, SESSION_COOKIE)
    customer = None
    if token:
        customer = await run_in_threadpool(
            find, http.database(request), http.settings(request), token, http.now()
        )
    request.state.customer = customer
    return customer


def header_context(request: Request) -> dict[str, Any]:
    """The page header's "Sign in" / "<name> · My requests · Sign out" (a context
    processor of the portal's templates). ``signed_in_header()`` is called only where
    base.html renders the header (not for htmx fragments): the customer a view looked
    up, else the sign-in cookie's (one indexed read, only for a browser with the
    cookie), and the CSRF token of the sign-out button."""

    def signed_in_header() -> dict[str, Any]:
        state = request.scope.setdefault("state", {})
        if "customer" in state:
            customer: Customer | None = state["customer"]
        else:
            customer = None
            token = cookie(request, SESSION_COOKIE)
            if token:
                customer = find(http.database(request), http.settings(request), token, http.now())
            state["customer"] = customer
        if customer is None:
            return {"customer": None, "csrf": ""}
        from portal.sessions import csrf_token

        return {"customer": customer, "csrf": csrf_token(request)}

    return {"signed_in_header": signed_in_header}
