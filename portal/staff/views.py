"""The staff console over HTTP: sign-in, sign-out, the set-password page, the queue
(``/staff``, a partial for htmx), a ticket's page and its actions.

Every staff page is ``no-store``; every form carries the CSRF token
(``portal.forms.read_form``); a session is a ``staff_sessions`` row named by a cookie
of its own (HttpOnly, SameSite=Strict, path /staff, Secure behind HTTPS), rotated
at sign-in together with the anonymous session that the CSRF token is bound to."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from portal import http, ratelimit
from portal.db.models import StaffUser
from portal.forms import plain, read_form
from portal.sessions import csrf_token, rotate
from portal.staff import accounts, actions, auth, passwords, queries, queue
from portal.staff.audit import Actor
from portal.templating import render
from portal.tickets import tokens
from portal.tickets.queries import load_ticket
from portal.tickets.states import EMERGENCY_LABELS, STATUS_LABELS, STATUSES
from portal.timefmt import human_time
from portal.wizard import uploads

COOKIE = "portal_staff"
COOKIE_PATH = "/staff"
TEXT_FIELDS = frozenset({"text", "note", "reason"})
DONE = {
    "reply": "Your reply was sent to the customer.",
    "note": "The internal note was added.",
    "status": "The status was changed and the customer told.",
    "priority": "The priority was changed.",
    "assign": "The assignment was changed.",
    "reject_emergency": "The emergency claim was rejected and the customer told.",
    "confirm_waiver": "The waiver was confirmed and the customer told.",
    "forward": "The request was forwarded to the upstream provider.",
    "complete": "The task was marked complete and the customer told.",
    "cancel": "The task was cancelled and the customer told.",
    "merge": "The duplicate was merged into this ticket.",
}


def _cookie_name(request: Request) -> str:
    return "__Secure-" + COOKIE if http.settings(request).https else COOKIE


def _token(request: Request) -> str | None:
    return request.cookies.get(_cookie_name(request))


def _set_cookie(request: Request, response: Response, token: str | None) -> None:
    settings = http.settings(request)
    response.set_cookie(
        _cookie_name(request),
        token or "",
        max_age=None if token else 0,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.https,
    )


def _path(request: Request, name: str, **params: str) -> str:
    return str(request.app.url_path_for(name, **params))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect(path: str) -> Response:
    return _no_store(RedirectResponse(path, status_code=303))


def _client(request: Request) -> str:
    return ratelimit.client_key(http.settings(request).secret_key, http.client_address(request))


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    context = {"csrf": csrf_token(request), "labels": STATUS_LABELS, **context}
    return render(request, name, context, status_code=status_code, block=block, no_store=True)


def _safe_next(value: str | None) -> str:
    """Only a path of the console itself (no other host, no scheme)."""
    value = value or ""
    if value.startswith("/staff") and not value.startswith("//") and "\\" not in value:
        return value
    return "/staff"


async def _signed_in(request: Request) -> StaffUser | None:
    return await run_in_threadpool(
        auth.current,
        http.database(request),
        http.settings(request),
        _token(request),
        now=http.now(),
    )


def staff_only(
    view: Callable[[Request, StaffUser], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The view for a signed-in staff member; others go to the sign-in page (a form
    sent after the session ended shows what was typed, so nothing is lost)."""

    async def guarded(request: Request) -> Response:
        staff = await _signed_in(request)
        if staff is not None:
            return await view(request, staff)
        ended = bool(_token(request))
        if request.method == "GET":
            query = f"?{request.url.query}" if request.url.query else ""
            target = urllib.parse.quote(request.url.path + query)
            login_path = _path(request, "staff.login")
            response = _redirect(f"{login_path}?next={target}" + ("&ended=1" if ended else ""))
        else:
            form = await read_form(request, multiline=lambda name: name in TEXT_FIELDS)
            path = request.url.path
            back = path.rsplit("/", 1)[0] if "/tickets/" in path else "/staff"
            typed = "\n\n".join(str(form.get(k) or "") for k in TEXT_FIELDS if form.get(k))
            response = _login_page(
                request,
                problem=(
                    "Your session has ended, so nothing was changed. Sign in and send it again."
                ),
                typed=typed,
                next_path=back,
                status_code=401,
            )
        if ended:
            _set_cookie(request, response, None)
        return response

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    guarded.__module__ = view.__module__
    guarded.__qualname__ = view.__qualname__
    return guarded


# --- signing in and out ------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    problem: str = "",
    email: str = "",
    needs_code: bool = False,
    typed: str = "",
    next_path: str = "/staff",
    status_code: int = 200,
) -> Response:
    settings = http.settings(request)
    context = {
        "problem": problem,
        "email": email,
        "needs_code": needs_code,
        "typed": typed,
        "next": _safe_next(next_path),
        "idle_minutes": settings.staff_idle_minutes,
    }
    return _page(request, "staff/login.html", context, status_code=status_code)


async def login(request: Request) -> Response:
    """GET: the sign-in form. POST: password (and the admin's code); a new session."""
    if request.method == "GET":
        ended = request.query_params.get("ended") == "1"
        minutes = http.settings(request).staff_idle_minutes
        problem = (
            f"Your session ended (after {minutes} minutes without activity, or it was "
            "signed out). Please sign in again."
            if ended
            else ""
        )
        return _login_page(request, problem=problem, next_path=request.query_params.get("next", ""))
    form = await read_form(request)
    fields = plain(form)
    email = fields.get("email", "").strip()
    result = await run_in_threadpool(
        auth.login,
        http.database(request),
        http.settings(request),
        email,
        fields.get("password", ""),
        code=fields.get("code", ""),
        client=http.client_address(request),
        old_token=_token(request),
        now=http.now(),
    )
    next_path = fields.get("next", "/staff")
    if result.token is None:
        problem = result.error or (
            "Enter the 6-digit code from your authenticator app, with your password again."
        )
        return _login_page(
            request,
            problem=problem,
            email=email,
            needs_code=result.needs_code,
            next_path=next_path,
            status_code=result.status if result.error else 200,
        )
    rotate(request)  # a new anonymous session id too: CSRF tokens from before are void
    response = _redirect(_safe_next(next_path))
    _set_cookie(request, response, result.token)
    return response


async def logout(request: Request) -> Response:
    await read_form(request)
    await run_in_threadpool(
        auth.logout,
        http.database(request),
        _token(request),
        client=_client(request),
        now=http.now(),
    )
    rotate(request)
    response = _redirect(_path(request, "staff.login"))
    _set_cookie(request, response, None)
    return response


async def set_password(request: Request) -> Response:
    """The one-time link from ``portal staff add`` or ``reset``."""
    db, settings = http.database(request), http.settings(request)
    if request.method == "POST":
        form = await read_form(request)
        fields = plain(form)
        token = fields.get("token", "")
    else:
        fields = {}
        token = request.query_params.get("token", "")
    try:
        check = await run_in_threadpool(accounts.check_link, db, settings, token)
    except tokens.TokenError as exc:
        return _page(
            request,
            "staff/message.html",
            {"title": "This link does not work", "message": str(exc), "staff": None},
            status_code=410 if exc.expired else 400,
        )
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            errors = await run_in_threadpool(
                accounts.set_password,
                db,
                settings,
                token,
                fields.get("password", ""),
                fields.get("repeat", ""),
                code=fields.get("code", ""),
                client=_client(request),
                now=http.now(),
            )
        except tokens.TokenError as exc:
            return _page(
                request,
                "staff/message.html",
                {"title": "This link does not work", "message": str(exc), "staff": None},
                status_code=410,
            )
        if not errors:
            return _page(
                request,
                "staff/message.html",
                {
                    "title": "Your password is set",
                    "message": "Sign in with your e-mail address and the new password.",
                    "staff": None,
                    "login_link": True,
                },
            )
    context = {
        "check": check,
        "token": token,
        "errors": errors,
        "totp_uri": check.totp_uri(settings.site_name) if check.totp_secret else "",
        "min_length": passwords.MIN_LENGTH,
        "staff": None,
    }
    return _page(request, "staff/password.html", context, status_code=422 if errors else 200)


# --- the queue -----------------------------------------------------------------------------


@staff_only
async def queue_page(request: Request, staff: StaffUser) -> Response:
    """The queue: filters, counts per filter (over all pages), a page of tickets in
    order (htmx: the results; its refresh asks for the same page)."""
    policy = http.policy(request)
    now = http.now()
    filters, errors = queue.parse_filters(request.query_params, policy)
    number, page_error = queue.parse_page(request.query_params)
    if page_error:
        errors["page"] = page_error
    rows = await run_in_threadpool(queries.queue_rows, http.database(request), policy, now=now)
    shown = queue.paginate(queue.select_rows(rows, filters, me=staff.id, now=now), number)
    counts = queue.facet_counts(rows, filters, policy, me=staff.id, now=now)
    names = await run_in_threadpool(queries.staff_names, http.database(request))

    def link(**change: Any) -> str:
        query = {**filters.query(), **{k: str(v) for k, v in change.items() if v not in ("", None)}}
        for k, v in change.items():
            if v in ("", None):
                query.pop(k, None)
        return "/staff" + ("?" + urllib.parse.urlencode(query) if query else "")

    def page_link(n: int) -> str:
        """This view's page ``n`` (the filters kept; page 1 needs no parameter)."""
        return link(page=n if n > 1 else "")

    context = {
        "staff": staff,
        "policy": policy,
        "filters": filters,
        "errors": errors,
        "rows": shown.rows,
        "page": shown,
        "page_numbers": queue.page_numbers(shown.number, shown.pages),
        "page_link": page_link,
        "refresh": page_link(shown.number),
        "total": len(rows),
        "counts": counts,
        "names": names,
        "now": now,
        "query": urllib.parse.urlencode(filters.query()),
        "link": link,
        "statuses": queue.STATUS_CHOICES,
        "describe_hours": queue.describe_hours,
        "due_hours": filters.due_within or 4,
    }
    return _page(
        request, "staff/queue.html", context, block="results", status_code=422 if errors else 200
    )


# --- one ticket ----------------------------------------------------------------------------


async def _ticket_response(
    request: Request,
    staff: StaffUser,
    number: str,
    *,
    error: str = "",
    failed: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    policy = http.policy(request)
    now = http.now()
    page = await run_in_threadpool(
        queries.ticket_page, http.database(request), policy, number, now=now
    )
    if page is None:
        raise HTTPException(404, f"There is no ticket {number}.")
    done = request.query_params.get("done", "") if request.method == "GET" else ""
    context = {
        "staff": staff,
        "policy": policy,
        "page": page,
        "ticket": page.ticket,
        "now": now,
        "error": error,
        "failed": failed,
        "form": form or {},
        "done": DONE.get(done, ""),
        "statuses": STATUSES,
        "emergency_labels": EMERGENCY_LABELS,
        "is_task": actions.is_task(policy, page.ticket.request_type),
        # the thread's times in the customer's zone, as the due time and their mails
        "customer_time": lambda moment: human_time(moment, page.zone, now=now),
    }
    return _page(request, "staff/ticket.html", context, status_code=status_code)


@staff_only
async def ticket_page(request: Request, staff: StaffUser) -> Response:
    """A ticket with everything needed to answer it, its thread and the actions."""
    return await _ticket_response(request, staff, str(request.path_params["number"]).upper())


def _run(
    request: Request, actor: Actor, number: str, action: str, f: dict[str, str], now: dt.datetime
) -> None:
    db, settings, policy = http.database(request), http.settings(request), http.policy(request)
    if action == "reply":
        status = f.get("status") or None
        actions.reply(
            db, policy, settings, actor, number, f.get("text", ""), status=status, now=now
        )
    elif action == "note":
        actions.note(db, actor, number, f.get("text", ""), now=now)
    elif action == "status":
        actions.set_status(
            db, policy, settings, actor, number, f.get("status", ""), f.get("note", ""), now=now
        )
    elif action == "priority":
        actions.set_priority(
            db, policy, actor, number, f.get("priority", ""), f.get("reason", ""), now=now
        )
    elif action == "assign":
        actions.assign(db, actor, number, f.get("to", ""), now=now)
    elif action == "reject_emergency":
        actions.reject_emergency(db, policy, settings, actor, number, f.get("note", ""), now=now)
    elif action == "confirm_waiver":
        actions.confirm_waiver(
            db,
            policy,
            settings,
            actor,
            number,
            waiver_id=f.get("waiver", ""),
            note_text=f.get("note", ""),
            now=now,
        )
    elif action == "forward":
        actions.forward(db, policy, settings, actor, number, f.get("note", ""), now=now)
    elif action in ("complete", "cancel"):
        actions.finish_task(
            db,
            policy,
            settings,
            actor,
            number,
            done=action == "complete",
            note_text=f.get("note", ""),
            now=now,
        )
    elif action == "merge":
        actions.merge(
            db, policy, settings, actor, number, f.get("into", ""), f.get("note", ""), now=now
        )
    else:  # pragma: no cover - the route only takes ACTIONS
        raise LookupError(action)


@staff_only
async def ticket_action(request: Request, staff: StaffUser) -> Response:
    """One action from the ticket page; then back to the page (or the merged-into one)."""
    number = str(request.path_params["number"]).upper()
    action = str(request.path_params["action"]).replace("-", "_")
    if action not in actions.ACTIONS:
        raise HTTPException(404, "There is no such action.")
    form = await read_form(request, multiline=lambda name: name in TEXT_FIELDS)
    fields = plain(form)
    actor = accounts.actor_of(staff, _client(request))
    try:
        await run_in_threadpool(_run, request, actor, number, action, fields, http.now())
    except LookupError as exc:
        raise HTTPException(404, str(exc).capitalize() + ".") from exc
    except ValueError as exc:  # ActionError, and the updates' own refusals
        return await _ticket_response(
            request, staff, number, error=str(exc), failed=action, form=fields, status_code=422
        )
    http.wake_outbox(request)
    target = fields.get("into", number).strip().upper() if action == "merge" else number
    return _redirect(_path(request, "staff.ticket", number=target) + f"?done={action}")


@staff_only
async def attachment(request: Request, staff: StaffUser) -> Response:
    """A ticket's attachment for staff: always a download, never rendered."""
    number = str(request.path_params["number"]).upper()
    view = await run_in_threadpool(load_ticket, http.database(request), number)
    upload = next(
        (u for u in (view.attachments if view else []) if u.id == request.path_params["upload"]),
        None,
    )
    path = uploads.path_of(http.settings(request).upload_dir, upload.id) if upload else None
    if upload is None or path is None:
        raise HTTPException(404, "No such attachment.")
    quoted = urllib.parse.quote(upload.filename, safe="")
    return FileResponse(
        path,
        media_type=upload.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
