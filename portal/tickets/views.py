"""Filing and following tickets over HTTP: the review step's submission, the emailed
filing link, the customer's status page, and POST /api/requests."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from kb.policy import Policy
from portal import analytics, uploads
from portal.sessions import check_csrf, csrf_token, session_id
from portal.templating import render
from portal.tickets import service, tokens
from portal.web import database as _db
from portal.web import now as _now
from portal.web import policy as _policy
from portal.web import settings as _settings
from portal.wizard import drafts
from portal.wizard.flow import (
    check_choose,
    check_coverage,
    check_describe,
    check_details,
)

MAX_API_BODY = 64 * 1024


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wake_outbox(request: Request) -> None:
    event = getattr(request.app.state, "outbox_wake", None)
    if event is not None:
        event.set()


async def submit_reviewed(request: Request, policy: Policy, data: dict[str, Any]) -> Response:
    """The review step's "Send request": same answer for listed and unlisted senders."""
    result = await run_in_threadpool(
        service.submit,
        _db(request),
        policy,
        _settings(request),
        data,
        client=_client(request),
        now=_now(),
    )
    if result.throttled:
        return render(
            request,
            "message.html",
            {"title": "Please wait a moment", "message": result.message},
            status_code=429,
        )
    await run_in_threadpool(analytics.record, _db(request), "ready", data["request_type"])
    await run_in_threadpool(drafts.discard, _db(request), session_id(request))
    wake_outbox(request)
    return render(request, "tickets/sent.html", {"message": result.message, "email": data["email"]})


def _pending_id(request: Request, token: str) -> str:
    try:
        return tokens.read(
            _settings(request).secret_key,
            tokens.FILE_REQUEST,
            token,
            _settings(request).verify_max_age,
        )
    except tokens.TokenError as exc:
        raise HTTPException(
            410 if exc.expired else 400,
            f"{exc} Prepare the request again; nothing you sent was filed.",
        ) from exc


async def confirm(request: Request) -> Response:
    """The emailed link: shows what will be filed; the button files it (GET changes
    nothing, so mail scanners that follow links cannot file requests)."""
    policy = _policy(request)
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=10)
        token = str(form.get("token") or "")
        check_csrf(request, str(form.get("csrf_token") or ""))
        pending_id = _pending_id(request, token)
        filing = await run_in_threadpool(
            service.file_pending,
            _db(request),
            policy,
            _settings(request),
            pending_id,
            accepted_now=form.get("accept_charges") == "yes",
            now=_now(),
        )
        if filing is not None and filing.ticket is not None:
            wake_outbox(request)
            return _ticket_page(request, policy, filing.ticket.number, just_filed=filing.created)
    else:
        token = request.query_params.get("token", "")
        pending_id = _pending_id(request, token)
        filing = await run_in_threadpool(
            service.prepare, _db(request), policy, pending_id, now=_now()
        )
    if filing is None:
        raise HTTPException(404, "This request no longer exists.")
    if filing.ticket is not None:
        return _ticket_page(request, policy, filing.ticket.number, just_filed=False)
    similar = []
    if filing.sender is not None:
        similar = await run_in_threadpool(
            service.open_tickets_like,
            _db(request),
            filing.sender.account_id,
            filing.pending.data["request_type"],
        )
    context = {
        "policy": policy,
        "filing": filing,
        "data": filing.pending.data,
        "request_type": policy.request_types.get(filing.pending.data.get("request_type", "")),
        "token": token,
        "csrf": csrf_token(request),
        "similar": [(t, service.status_link(_settings(request), t.number)) for t in similar],
    }
    return render(request, "tickets/confirm.html", context)


def _ticket_page(request: Request, policy: Policy, number: str, *, just_filed: bool) -> Response:
    view = service.load_ticket(_db(request), number)
    if view is None:
        raise HTTPException(404, "No such ticket.")
    settings = _settings(request)
    token = tokens.make(settings.secret_key, tokens.TICKET_STATUS, number)
    context = {
        "policy": policy,
        "view": view,
        "ticket": view.ticket,
        "labels": service.STATUS_LABELS,
        "closed": view.ticket.status in service.CLOSED,
        "token": token,
        "csrf": csrf_token(request),
        "just_filed": just_filed,
    }
    return render(request, "tickets/status.html", context)


def _status_number(request: Request, token: str) -> str:
    number = str(request.path_params["number"])
    try:
        value = tokens.read(
            _settings(request).secret_key, tokens.TICKET_STATUS, token, tokens.STATUS_MAX_AGE
        )
    except tokens.TokenError as exc:
        raise HTTPException(404, "No such ticket, or the link is not valid.") from exc
    if value != number:
        raise HTTPException(404, "No such ticket, or the link is not valid.")
    return number


async def status_page(request: Request) -> Response:
    policy = _policy(request)
    number = _status_number(request, request.query_params.get("token", ""))
    return _ticket_page(request, policy, number, just_filed=False)


async def add_to_ticket(request: Request) -> Response:
    policy = _policy(request)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, str(form.get("csrf_token") or ""))
    number = _status_number(request, str(form.get("token") or ""))
    text = str(form.get("text") or "").strip()
    kind = request.path_params["kind"]
    if not text:
        raise HTTPException(400, "Write something first; nothing was sent.")
    if len(text) > 10_000:
        raise HTTPException(413, "Keep it under 10,000 characters.")
    try:
        if kind == "comment":
            await run_in_threadpool(
                service.add_comment, _db(request), _settings(request), number, text, now=_now()
            )
        elif kind in ("feedback", "complaint"):
            await run_in_threadpool(
                service.add_feedback,
                _db(request),
                policy,
                _settings(request),
                number,
                text,
                complaint=kind == "complaint",
                now=_now(),
            )
        else:
            raise HTTPException(404, "Unknown action.")
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    wake_outbox(request)
    return _ticket_page(request, policy, number, just_filed=False)


async def api_requests(request: Request) -> Response:
    """POST /api/requests: the wizard's fields as JSON, checked the same way."""
    policy = _policy(request)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":  # cross-site forms cannot send this type
        return JSONResponse({"error": "send Content-Type: application/json"}, status_code=415)
    body = await request.body()
    if len(body) > MAX_API_BODY:
        return JSONResponse({"error": "request body too large"}, status_code=413)
    try:
        payload = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    flat = {k: v if isinstance(v, str) else "" for k, v in payload.items() if k != "details"}
    details = payload.get("details") if isinstance(payload.get("details"), dict) else {}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for checked in (check_describe(flat), check_choose(policy, flat)):
        errors.update(checked.errors)
        data.update(checked.values)
    if not errors:
        accept = "yes" if payload.get("accept_charges") is True else ""
        checked = check_coverage(policy, data, {"accept_charges": accept})
        errors.update(checked.errors)
        data.update(checked.values)
    if not errors:
        form = {f"detail_{k}": str(v) for k, v in (details or {}).items() if isinstance(v, str)}
        form["priority"] = flat.get("priority", "")
        form["emergency"] = "yes" if payload.get("emergency") is True else ""
        checked = check_details(policy, data, form, attachments={}, now=_now())
        errors.update(checked.errors)
        data.update(checked.values)
    if errors:
        return JSONResponse(
            {"error": "the request is incomplete", "fields": errors}, status_code=422
        )
    result = await run_in_threadpool(
        service.submit,
        _db(request),
        policy,
        _settings(request),
        data,
        client=_client(request),
        now=_now(),
    )
    if result.throttled:
        return JSONResponse({"error": result.message}, status_code=429)
    wake_outbox(request)
    return JSONResponse({"message": result.message}, status_code=202)


async def attachment(request: Request) -> Response:
    """A ticket's attachment for its customer: always a download, never rendered."""
    number = _status_number(request, request.query_params.get("token", ""))
    view = await run_in_threadpool(service.load_ticket, _db(request), number)
    upload = next(
        (u for u in (view.attachments if view else []) if u.id == request.path_params["upload"]),
        None,
    )
    path = uploads.path_of(_settings(request).upload_dir, upload.id) if upload else None
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
