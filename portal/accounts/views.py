"""Sign-in pages, "my requests" and their JSON API.

Pages: ``/signin`` (ask for a code), ``POST /signin/code`` (type it), ``/signin/link``
(the e-mailed one-click link), ``POST /signin/pick`` (a contact of several accounts
picks one), ``POST /signout`` and ``POST /signout/everywhere``, ``/requests``.
API: ``POST /api/signin``, ``POST /api/signin/verify``, ``GET /api/me``,
``GET /api/me/requests``, ``POST /api/signout``. Like ``POST /api/requests``, the
JSON API's POSTs take only ``application/json`` bodies (a cross-site form cannot send
one, and a cross-site script cannot without a CORS preflight the portal never
answers), and the cookies are SameSite=Lax.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from kb.policy import Policy
from kb.policy.engine import plan_in_force
from portal import api, http
from portal.accounts import signin
from portal.directory import customer_sessions
from portal.directory.customer_sessions import PENDING_COOKIE, Customer
from portal.forms import plain, read_form
from portal.sessions import csrf_token
from portal.templating import render
from portal.tickets import my_requests, states
from portal.wizard import drafts

MAX_API_BODY = 64 * 1024  # as POST /api/requests: past the fields' maxLength, 422 comes first
DEFAULT_NEXT = "/requests"


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    text = (value or "").strip()
    if not text.startswith("/") or text.startswith("//") or "\\" in text or len(text) > 300:
        return DEFAULT_NEXT
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        return DEFAULT_NEXT
    return text


def _browser_token(request: Request) -> tuple[str, bool]:
    """This browser's pending-sign-in value, and whether it is new."""
    value = customer_sessions.cookie(request, PENDING_COOKIE)
    if 32 <= len(value) <= 64:
        return value, False
    return secrets.token_urlsafe(32), True


def _with_pending(response: Response, request: Request, token: str) -> Response:
    """Every sign-in answer sets the pending cookie again (same headers for every
    address: the value is this browser's, listed contact or not)."""
    customer_sessions.set_cookie(
        response, http.settings(request), PENDING_COOKIE, token, customer_sessions.PENDING_MAX_AGE
    )
    return response


def _page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    return render(
        request,
        template,
        {"csrf": csrf_token(request), "errors": {}, "form": {}, **context},
        status_code=status_code,
        no_store=True,
    )


async def _signed_in(request: Request, verified: signin.Verified, next_url: str) -> Response:
    """Signed in: a new anonymous session id too (the draft goes along), the sign-in
    cookie, then on to ``next_url``."""
    assert verified.token is not None
    await _end_previous(request)
    await drafts.rotate_session(request)
    response = RedirectResponse(_next(next_url), status_code=303)
    return customer_sessions.sign_in_response(response, http.settings(request), verified.token)


async def _end_previous(request: Request) -> None:
    """Signing in again ends this browser's earlier sign-in (its row is deleted)."""
    token = customer_sessions.cookie(request, customer_sessions.SESSION_COOKIE)
    if token:
        await run_in_threadpool(
            customer_sessions.end, http.database(request), http.settings(request), token
        )


def _pick_page(request: Request, verified: signin.Verified, next_url: str, token: str) -> Response:
    policy = http.policy(request)
    response = _page(
        request,
        "accounts/pick.html",
        {
            "choices": verified.choices,
            "email": verified.email,
            "next": _next(next_url),
            "role_names": {r.id: r.name.lower() for r in policy.contacts.roles},
        },
    )
    return _with_pending(response, request, token)


# --- pages ---------------------------------------------------------------------------------


async def signin_page(request: Request) -> Response:
    """GET /signin: the address (and, optionally, the account id)."""
    http.policy(request)
    customer = await customer_sessions.current(request)
    next_url = _next(request.query_params.get("next"))
    return _page(
        request,
        "accounts/signin.html",
        {"next": next_url, "customer": customer, "minutes": signin.CODE_MINUTES},
    )


async def signin_start(request: Request) -> Response:
    """POST /signin: mail a code to a listed contact; the same page for every address."""
    policy = http.policy(request)
    form = plain(await read_form(request))
    email, account = form.get("email", ""), form.get("account", "")
    next_url = _next(form.get("next"))
    token, _new = _browser_token(request)
    started = await run_in_threadpool(
        signin.start,
        http.database(request),
        policy,
        http.settings(request),
        email,
        account,
        browser_token=token,
        client=http.client_address(request),
        now=http.now(),
    )
    http.wake_outbox(request)
    if started.errors:
        context = {
            "next": next_url,
            "errors": started.errors,
            "form": {"email": email, "account": account},
            "minutes": signin.CODE_MINUTES,
        }
        return _page(request, "accounts/signin.html", context, status_code=422)
    status = 429 if started.throttled else 200
    context = {
        "message": started.message,
        "throttled": started.throttled,
        "email": signin.clean_email(email),
        "next": next_url,
    }
    response = _page(request, "accounts/code.html", context, status_code=status)
    return _with_pending(response, request, token)


async def signin_code(request: Request) -> Response:
    """POST /signin/code: the typed code; signs in, or asks to pick an account."""
    form = plain(await read_form(request))
    email, code = form.get("email", ""), form.get("code", "")
    next_url = _next(form.get("next"))
    token, _new = _browser_token(request)
    verified = await run_in_threadpool(
        signin.verify_code,
        http.database(request),
        http.settings(request),
        email,
        code,
        browser_token=token,
        client=http.client_address(request),
        now=http.now(),
    )
    if verified.ok:
        return await _signed_in(request, verified, next_url)
    if verified.choices:
        return _pick_page(request, verified, next_url, token)
    context = {
        "message": "",
        "errors": {"code": verified.problem},
        "email": signin.clean_email(email),
        "next": next_url,
        "throttled": verified.throttled,
    }
    status = 429 if verified.throttled else 422
    return _with_pending(
        _page(request, "accounts/code.html", context, status_code=status), request, token
    )


async def signin_link(request: Request) -> Response:
    """GET /signin/link?token=…: the e-mailed link. In the browser that asked it signs
    in; in another browser it is refused (and stays usable where it belongs)."""
    token, _new = _browser_token(request)
    verified = await run_in_threadpool(
        signin.verify_link,
        http.database(request),
        http.settings(request),
        request.query_params.get("token", ""),
        browser_token=token,
        now=http.now(),
    )
    if verified.ok:
        return await _signed_in(request, verified, DEFAULT_NEXT)
    if verified.choices:
        return _pick_page(request, verified, DEFAULT_NEXT, token)
    status = 403 if verified.other_browser else 410
    return _page(
        request,
        "accounts/link.html",
        {"problem": verified.problem, "other_browser": verified.other_browser},
        status_code=status,
    )


async def signin_pick(request: Request) -> Response:
    """POST /signin/pick: the account a contact of several accounts signs in to."""
    form = plain(await read_form(request))
    token, _new = _browser_token(request)
    email = form.get("email", "")
    verified = await run_in_threadpool(
        signin.pick,
        http.database(request),
        http.settings(request),
        email,
        form.get("account", ""),
        browser_token=token,
        now=http.now(),
    )
    next_url = _next(form.get("next"))
    if verified.ok:
        return await _signed_in(request, verified, next_url)
    if verified.choices:
        return _pick_page(request, verified, next_url, token)
    return _page(
        request,
        "accounts/link.html",
        {"problem": verified.problem, "other_browser": False},
        status_code=410,
    )


async def _sign_out(request: Request, *, everywhere: bool) -> int:
    customer = await customer_sessions.current(request)
    db, settings = http.database(request), http.settings(request)
    ended = 0
    if customer is not None and everywhere:
        ended = await run_in_threadpool(customer_sessions.end_everywhere, db, customer.email)
    token = customer_sessions.cookie(request, customer_sessions.SESSION_COOKIE)
    if token:
        await run_in_threadpool(customer_sessions.end, db, settings, token)
    await drafts.rotate_session(request)
    request.state.customer = None
    request.state.known = None
    return ended


async def signout(request: Request) -> Response:
    """POST /signout: this browser only."""
    await read_form(request)
    await _sign_out(request, everywhere=False)
    response = _page(
        request,
        "message.html",
        {"title": "Signed out", "message": "You are signed out in this browser."},
    )
    customer_sessions.clear_cookie(
        response, http.settings(request), customer_sessions.SESSION_COOKIE
    )
    return response


async def signout_everywhere(request: Request) -> Response:
    """POST /signout/everywhere: every browser signed in with this address."""
    await read_form(request)
    await _sign_out(request, everywhere=True)
    response = _page(
        request,
        "message.html",
        {
            "title": "Signed out everywhere",
            "message": "You are signed out in every browser where you were signed in with "
            "this address.",
        },
    )
    customer_sessions.clear_cookie(
        response, http.settings(request), customer_sessions.SESSION_COOKIE
    )
    return response


SENT = {
    "comment": "Thank you: your information is added to the request.",
    "feedback": "Thank you for your feedback: it went to a supervisor.",
    "complaint": "Thank you: your complaint went to a supervisor.",
}


async def requests_page(request: Request) -> Response:
    """GET /requests: the signed-in contact's requests (the account's, for the roles
    that see them all), each with a form to add information."""
    policy = http.policy(request)
    customer = await customer_sessions.current(request)
    if customer is None:
        return RedirectResponse("/signin?next=/requests", status_code=303)
    rows = await run_in_threadpool(
        my_requests.requests_of, http.database(request), policy, customer.sender
    )
    context = {
        "policy": policy,
        "customer": customer,
        "rows": rows,
        "whole_account": my_requests.sees_account(policy, customer.sender),
        "labels": states.STATUS_LABELS,
        "closed": states.CLOSED,
        "sent_message": SENT.get(request.query_params.get("sent", ""), ""),
        "now": http.now(),
        "max_upload_mb": http.settings(request).max_upload_bytes // (1024 * 1024),
        "sessions": await run_in_threadpool(
            customer_sessions.count_for, http.database(request), customer.email, http.now()
        ),
    }
    return _page(request, "accounts/requests.html", context)


# --- JSON API --------------------------------------------------------------------------------

_MESSAGE: api.Schema = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}
_ACCOUNT: api.Schema = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
_ME: api.Schema = {
    "type": "object",
    "required": ["contact", "account", "plan", "role", "version", "servers"],
    "properties": {
        "contact": {
            "type": "object",
            "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
        },
        "account": _ACCOUNT,
        "plan": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "ends": {"type": ["string", "null"], "format": "date"},
                "in_force": {
                    "type": ["string", "null"],
                    "description": (
                        "the plan in force today (the wizard's): after ``ends``, what the "
                        "policy's when_ended makes of it; null: no plan (paid work)"
                    ),
                },
            },
        },
        "role": {"type": "string"},
        "version": {"type": ["string", "null"]},
        "servers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "id": {"type": "string"},
                    "owner": {"type": "string"},
                },
            },
        },
    },
}
_ROW: api.Schema = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "string"},
        "priority": {"type": "string"},
        "contact": {"type": "string"},
        "first_response_due": {"type": ["string", "null"], "format": "date-time"},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
    },
}
_UNAUTHORISED = api.Reply("Not signed in (no sign-in cookie, or it expired or was signed out)")

SIGNIN_API = api.Operation(
    "POST",
    body=api.Body(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["email"],
            "properties": {
                "email": {"type": "string", "maxLength": 254},
                "account": {
                    "type": "string",
                    "maxLength": 80,
                    "description": "the account id (optional; case, spaces and hyphens "
                    "do not matter)",
                },
            },
        },
        max_bytes=MAX_API_BODY,
    ),
    responses={
        202: api.Reply(
            "The same answer for every address: a listed contact is mailed a code; the "
            "answer sets the pending-sign-in cookie that binds the code to this client",
            _MESSAGE,
        ),
        429: api.Reply("Too many sign-in attempts from this client or for this address"),
    },
)

VERIFY_API = api.Operation(
    "POST",
    body=api.Body(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["email", "code"],
            "properties": {
                "email": {"type": "string", "maxLength": 254},
                "code": {"type": "string", "maxLength": 20},
                "account": {
                    "type": "string",
                    "maxLength": 40,
                    "description": "for a contact of several accounts: the account id",
                },
            },
        },
        max_bytes=MAX_API_BODY,
    ),
    responses={
        200: api.Reply("Signed in: the answer sets the sign-in cookie", _ME),
        401: api.Reply("The same answer for a wrong, used or expired code or another address"),
        409: api.Reply(
            "The address is a contact of several accounts: send the code again with one "
            "of these ``account`` ids",
            {
                "type": "object",
                "required": ["error", "accounts"],
                "properties": {
                    "error": {"type": "string"},
                    "accounts": {"type": "array", "items": _ACCOUNT},
                },
            },
        ),
        429: api.Reply("Too many attempts from this client or for this address"),
    },
)

ME_API = api.Operation(
    "GET", responses={200: api.Reply("The signed-in contact", _ME), 401: _UNAUTHORISED}
)

MY_REQUESTS_API = api.Operation(
    "GET",
    responses={
        200: api.Reply(
            "The contact's requests (every request of the account for the roles the "
            "policy lets see them all: contacts.restricted_roles), newest update first",
            {
                "type": "object",
                "required": ["requests"],
                "properties": {"requests": {"type": "array", "items": _ROW}},
            },
        ),
        401: _UNAUTHORISED,
    },
)

SIGNOUT_API = api.Operation(
    "POST",
    body=api.Body(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "everywhere": {
                    "type": "boolean",
                    "description": "true: every client signed in with this address",
                }
            },
        },
        max_bytes=MAX_API_BODY,
    ),
    responses={200: api.Reply("Signed out (also when not signed in)", _MESSAGE)},
)


def _me(policy: Policy, customer: Customer) -> dict[str, Any]:
    s = customer.sender
    plan = policy.plans.get(s.plan)
    in_force = plan_in_force(policy, s.plan, s.plan_ends, http.now()) if plan else s.plan
    return {
        "contact": {"email": s.email, "name": s.name},
        "account": {"id": s.account_id, "name": s.account_name},
        "plan": {
            "id": s.plan,
            "name": plan.name if plan else s.plan,
            "ends": s.plan_ends.isoformat() if s.plan_ends else None,
            "in_force": in_force,
        },
        "role": s.role,
        "version": s.product_version,
        "servers": [{"name": n, "id": i, "owner": o} for n, i, o in s.servers],
    }


async def _json(request: Request, operation: api.Operation) -> dict[str, Any]:
    data = await api.json_body(request, operation)
    api.check_body(operation, data)
    return data


async def api_signin(request: Request) -> Response:
    """Ask for a sign-in code (the same answer for every address)."""
    policy = http.policy(request)
    data = await _json(request, SIGNIN_API)
    token, _new = _browser_token(request)
    started = await run_in_threadpool(
        signin.start,
        http.database(request),
        policy,
        http.settings(request),
        str(data["email"]),
        str(data.get("account") or ""),
        browser_token=token,
        client=http.client_address(request),
        now=http.now(),
    )
    http.wake_outbox(request)
    if started.errors:
        raise api.Invalid(422, next(iter(started.errors.values())), started.errors)
    if started.throttled:
        return _with_pending(JSONResponse({"error": started.message}, 429), request, token)
    return _with_pending(JSONResponse({"message": started.message}, 202), request, token)


async def api_verify(request: Request) -> Response:
    """Sign in with the mailed code (from the client that asked for it)."""
    policy = http.policy(request)
    data = await _json(request, VERIFY_API)
    token, _new = _browser_token(request)
    verified = await run_in_threadpool(
        signin.verify_code,
        http.database(request),
        http.settings(request),
        str(data["email"]),
        str(data["code"]),
        browser_token=token,
        client=http.client_address(request),
        now=http.now(),
        account_id=str(data.get("account") or ""),
    )
    if verified.throttled:
        return JSONResponse({"error": verified.problem}, status_code=429)
    if verified.choices:
        accounts = [{"id": c.account_id, "name": c.account_name} for c in verified.choices]
        error = "this address is a contact of several accounts: choose one"
        return JSONResponse({"error": error, "accounts": accounts}, status_code=409)
    if not verified.ok:
        return JSONResponse({"error": verified.problem}, status_code=401)
    assert verified.token is not None
    await _end_previous(request)
    await drafts.rotate_session(request)
    customer = await run_in_threadpool(
        customer_sessions.find,
        http.database(request),
        http.settings(request),
        verified.token,
        http.now(),
    )
    assert customer is not None
    response = JSONResponse(_me(policy, customer), status_code=200)
    return customer_sessions.sign_in_response(response, http.settings(request), verified.token)


async def api_me(request: Request) -> Response:
    """The signed-in contact: account, plan, role, version, servers."""
    policy = http.policy(request)
    customer = await customer_sessions.current(request)
    if customer is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    return JSONResponse(_me(policy, customer), headers={"Cache-Control": "no-store"})


async def api_my_requests(request: Request) -> Response:
    """The signed-in contact's requests."""
    policy = http.policy(request)
    customer = await customer_sessions.current(request)
    if customer is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    rows = await run_in_threadpool(
        my_requests.requests_of, http.database(request), policy, customer.sender
    )
    items = [
        {
            "number": r.number,
            "title": r.title,
            "status": r.status,
            "priority": r.priority,
            "contact": r.contact_email,
            "first_response_due": r.due_at.isoformat() if r.due_at else None,
            "answered_at": r.answered_at.isoformat() if r.answered_at else None,
            "updated_at": r.updated_at.isoformat(),
            "url": str(request.url_for("tickets.status", number=r.number).path),
        }
        for r in rows
    ]
    return JSONResponse({"requests": items}, headers={"Cache-Control": "no-store"})


async def api_signout(request: Request) -> Response:
    """Sign out this client (``everywhere``: every client of this address)."""
    data = await _json(request, SIGNOUT_API)
    await _sign_out(request, everywhere=data.get("everywhere") is True)
    response = JSONResponse({"message": "signed out"}, status_code=200)
    customer_sessions.clear_cookie(
        response, http.settings(request), customer_sessions.SESSION_COOKIE
    )
    return response
