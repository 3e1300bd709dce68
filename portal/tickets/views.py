"""Filing and following tickets over HTTP: the review step's submission, the emailed
filing link, the customer's status page, and POST /api/requests."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import zoneinfo
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from kb.policy import Policy
from kb.policy.engine import first_response_due
from portal import analytics, api, http
from portal.db.models import Ticket
from portal.directory import customer_sessions, servers
from portal.forms import read_form
from portal.sessions import csrf_token, session_id
from portal.templating import render
from portal.tickets import history, links, my_requests, numbers, queries, states, tokens, updates
from portal.tickets.filing import (
    Filing,
    file_now,
    file_pending,
    prepare,
    refused_characters,
    submit,
)
from portal.timefmt import ticket_zone
from portal.wizard import drafts, uploads
from portal.wizard import signed_in as facts
from portal.wizard.flow import (
    STEPS,
    Draft,
    Known,
    check_all,
    check_choose,
    check_coverage,
    check_describe,
    check_details,
)

MAX_API_BODY = 64 * 1024
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


# the wizard's route of each step, to send the customer back where something is missing
STEP_ROUTES = {step: f"wizard.{step}" for step in STEPS}


async def send_review(request: Request) -> Response:
    """The review step's "Send request" (POST /request/review): every step is checked
    again, then the request goes for verification. The answer is the same for listed
    and unlisted senders. A signed-in contact's request is filed at once
    (``_file_signed_in``)."""
    policy = http.policy(request)
    draft = await run_in_threadpool(drafts.load, http.database(request), session_id(request))
    known = await facts.known(request, policy)
    needed = check_all(policy, draft, now=http.now(), known=known)
    if needed != "review":
        return RedirectResponse(request.url_for(STEP_ROUTES[needed]).path, status_code=303)
    await read_form(request)
    if known is not None:
        return await _file_signed_in(request, policy, draft, known)
    # a new session id from here on (the draft goes along and is then discarded):
    # whoever held the old cookie cannot follow the request being sent
    await drafts.rotate_session(request)
    result = await run_in_threadpool(
        submit,
        http.database(request),
        policy,
        http.settings(request),
        draft.to_json(),
        client=http.client_address(request),
        now=http.now(),
    )
    if result.throttled:
        return render(
            request,
            "message.html",
            {"title": "Please wait a moment", "message": result.message},
            status_code=429,
            no_store=True,
        )
    if result.errors:  # a draft from before these checks: the steps show what to change
        fields = ", ".join(f"“{name}”" for name in result.errors)
        return render(
            request,
            "message.html",
            {
                "title": "Please check what you typed",
                "message": f"{result.message} Go back to the step with {fields} to change it.",
            },
            status_code=422,
            no_store=True,
        )
    await run_in_threadpool(analytics.record, http.database(request), "ready", draft.request_type)
    await run_in_threadpool(drafts.discard, http.database(request), session_id(request))
    http.wake_outbox(request)
    context = {"message": result.message, "email": draft.email, "account": draft.account}
    return render(request, "tickets/sent.html", context, no_store=True)


async def _file_signed_in(request: Request, policy: Policy, draft: Draft, known: Known) -> Response:
    """File a signed-in contact's reviewed request now and show its page (303 to
    ``/tickets/<number>``, which the contact sees without a token)."""
    db = http.database(request)
    filing = await run_in_threadpool(
        file_now,
        db,
        policy,
        http.settings(request),
        draft.to_json(),
        account_id=known.account,
        email=known.email,
        client=http.client_address(request),
        now=http.now(),
    )
    if filing is None or filing.ticket is None:
        if filing is not None and filing.needs_acceptance:
            return RedirectResponse(request.url_for("wizard.coverage").path, status_code=303)
        if filing is not None and filing.needs_server:
            problem = "Pick the server this request is about in the details step."
        else:
            problem = (filing.problem if filing else "") or "This request cannot be filed."
        return render(
            request,
            "message.html",
            {"title": "Not filed", "message": f"{problem} Nothing was filed; your draft is kept."},
            status_code=409,
            no_store=True,
        )
    await run_in_threadpool(analytics.record, db, "ready", draft.request_type)
    await run_in_threadpool(drafts.discard, db, session_id(request))
    http.wake_outbox(request)
    path = request.url_for("tickets.status", number=filing.ticket.number).path
    return RedirectResponse(f"{path}?filed=1", status_code=303)


async def _signed_in_token(request: Request, policy: Policy, number: str) -> str | None:
    """The ticket's status token when the signed-in contact may see the ticket (their
    own, or any of the account's for the roles that see them all), else None."""
    customer = await customer_sessions.current(request)
    if customer is None:
        return None
    return await run_in_threadpool(
        my_requests.ticket_token,
        http.database(request),
        policy,
        http.settings(request),
        customer.sender,
        number,
    )


async def _ticket_number(request: Request, policy: Policy, token: str) -> tuple[str, str]:
    """The ticket number of this URL and the token to carry: a valid status token, or
    the signed-in contact's access (404 otherwise)."""
    try:
        return await run_in_threadpool(_verify_status_token, request, token), token
    except tokens.TokenError as exc:
        number = str(request.path_params["number"])
        signed_in = await _signed_in_token(request, policy, number)
        if signed_in is None:
            raise HTTPException(404, "No such ticket, or the link is not valid.") from exc
        return number, signed_in


def _pending_id(request: Request, token: str) -> str:
    try:
        return tokens.read(
            http.settings(request).secret_key,
            tokens.FILE_REQUEST,
            token,
            http.settings(request).verify_max_age,
        )
    except tokens.TokenError as exc:
        raise HTTPException(
            410 if exc.expired else 400,
            f"{exc} Prepare the request again; nothing you sent was filed.",
        ) from exc


async def confirm(request: Request) -> Response:
    """The emailed link: shows what will be filed; the button files it (GET changes
    nothing, so mail scanners that follow links cannot file requests)."""
    policy = http.policy(request)
    server_pick: str | None = None  # the server picker's value, when one was chosen
    accepted = False
    if request.method == "POST":
        form = await read_form(request)
        token = str(form.get("token") or "")
        pending_id = _pending_id(request, token)
        picked = form.get("server_pick")
        server_pick = picked if isinstance(picked, str) and picked else None
        accepted = form.get("accept_charges") == "yes"
        filing = await run_in_threadpool(
            file_pending,
            http.database(request),
            policy,
            http.settings(request),
            pending_id,
            accepted_now=accepted,
            now=http.now(),
            server_pick=server_pick,
        )
        if filing is not None and filing.ticket is not None:
            http.wake_outbox(request)
            # the status token issued by this filing (None on a second click: the link
            # is in the confirmation mail, and a filing link never mints one)
            return await _ticket_page(
                request,
                policy,
                filing.ticket.number,
                just_filed=filing.created,
                token=filing.status_token,
            )
    else:
        token = request.query_params.get("token", "")
        pending_id = _pending_id(request, token)
        filing = await run_in_threadpool(
            prepare, http.database(request), policy, pending_id, now=http.now()
        )
    if filing is None:
        raise HTTPException(404, "This request no longer exists.")
    if filing.ticket is not None:
        return await _ticket_page(
            request, policy, filing.ticket.number, just_filed=False, token=None
        )
    similar = []
    if filing.sender is not None:
        similar = await run_in_threadpool(
            queries.open_tickets_like,
            http.database(request),
            filing.sender.account_id,
            filing.draft.request_type,
        )
    due_local = opens_local = None
    tz = ticket_zone({"tz": filing.draft.tz}, policy.provider.timezone)
    if filing.due is not None and filing.due.at is not None:
        due_local = filing.due.at
    elif filing.due is not None and filing.due.opens_at is not None:
        opens_local = filing.due.opens_at
    context = {
        "policy": policy,
        "filing": filing,
        "data": filing.draft,
        "request_type": policy.request_types.get(filing.draft.request_type),
        "token": token,
        "csrf": csrf_token(request),
        "due_local": due_local,
        "opens_local": opens_local,
        "tz": tz,  # the customer's zone: every time on the page is in it
        "now": http.now(),
        # no links: a status link goes only to the contact of its ticket
        "similar": similar,
        "picker": _server_picker(filing, server_pick, submitted=request.method == "POST"),
        "accepted": accepted,  # kept ticked when the page is shown again
    }
    return render(request, "tickets/confirm.html", context, no_store=True)


def _server_picker(
    filing: Filing, server_pick: str | None, *, submitted: bool
) -> servers.Picker | None:
    """The account's servers to pick from, when the server the request names is
    unknown or ambiguous (and again after a pick, so a page shown once more for another
    reason keeps it). Only here, where the sender has proved the address: the
    anonymous wizard never shows an account's servers."""
    if filing.sender is None or not filing.sender.servers:
        return None
    if not (filing.needs_server or server_pick is not None):
        return None
    return servers.picker(
        filing.sender.servers,
        filing.server,
        typed=filing.draft.details.get("server", ""),
        value=server_pick,
        submitted=submitted,
    )


def _response_words(
    policy: Policy, ticket: Ticket, now: dt.datetime
) -> tuple[str, dt.datetime | None, str]:
    """For a ticket with no due time: the policy's words for its first response and
    when support next opens, in the customer's time zone (with that zone)."""
    snapshot = ticket.plan_snapshot or {}
    tz = ticket_zone(snapshot, policy.provider.timezone)
    if ticket.due_at is not None:
        return "", None, tz
    plan = ticket.plan if ticket.plan in policy.plans else None
    priority = ticket.priority if ticket.priority in policy.priorities else None
    priority = priority or next(iter(policy.priorities))
    emergency = bool(ticket.emergency_accepted)
    due = first_response_due(policy, plan, priority, now, emergency=emergency)
    text = str(snapshot.get("first_response_text") or due.describe())
    opens = due.opens_at.astimezone(zoneinfo.ZoneInfo(tz)) if due.opens_at else None
    return text, opens, tz


# the thank-you after the status page's forms, by what was sent
SENT_MESSAGES = {
    "comment": "Thank you: your information is added to the request.",
    "feedback": "Thank you for your feedback: it went to a supervisor, who reads every message.",
    "complaint": "Thank you: your complaint went to a supervisor, who reads every message.",
}


async def _ticket_page(
    request: Request,
    policy: Policy,
    number: str,
    *,
    just_filed: bool,
    token: str | None,
    sent: str = "",
    added: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The status page with the status token the visitor came with (or the one just
    issued by filing). It never makes a token: without one the page shows the ticket
    but no forms or attachments, and offers to mail a new link."""
    view = await run_in_threadpool(queries.load_ticket, http.database(request), number)
    if view is None:
        return _without_valid_link(request, policy, number, "This link is not valid.", 404)
    now = http.now()
    response_text, opens_local, tz = _response_words(policy, view.ticket, now)
    entries = history.customer_history(view.events, states.STATUS_LABELS)
    # each addition's and reply's files beside it, once: the request's own list holds
    # only what came with the request
    event_files = history.files_by_entry(entries, view.attachments)
    placed = {id(f) for fs in event_files for f in fs}
    context = {
        "policy": policy,
        "response_text": response_text,
        "opens_local": opens_local,
        "customer_tz": tz,
        "now": now,
        "history": entries,
        "event_files": event_files,
        "request_files": [a for a in view.attachments if id(a) not in placed],
        # "First response by …" until our staff answered; feedback once there is a reply
        "answered_at": history.first_answer(view.events),
        "has_reply": history.has_reply(view.events),
        "sent_message": SENT_MESSAGES.get(sent, ""),
        "view": view,
        "ticket": view.ticket,
        "labels": states.STATUS_LABELS,
        "closed": view.ticket.status in states.CLOSED,
        "token": token,
        "csrf": csrf_token(request),
        "just_filed": just_filed,
        "emergency_labels": states.EMERGENCY_LABELS,
        "link_form": {"number": number, "email": ""},
        "link_roles": _link_roles(policy),
        "errors": {},
        # a refused addition: its problem and what was typed
        "added": added or {},
        "max_upload_mb": http.settings(request).max_upload_bytes // (1024 * 1024),
    }
    return render(request, "tickets/status.html", context, status_code=status, no_store=True)


def _verify_status_token(request: Request, token: str) -> str:
    """The ticket number of a status token for this URL's ticket, if the token is
    genuine, not expired (``PORTAL_STATUS_MAX_AGE``) and the ticket's current link."""
    number = str(request.path_params["number"])
    settings = http.settings(request)
    value, version = tokens.read_versioned(
        settings.secret_key, tokens.TICKET_STATUS, token, settings.status_max_age
    )
    if value != number:
        raise tokens.TokenError("This link is not valid.")
    if not links.status_link_valid(http.database(request), number, version):
        raise tokens.TokenError("This link was replaced by a newer one.", expired=True)
    return number


def _status_number(request: Request, token: str) -> str:
    try:
        return _verify_status_token(request, token)
    except tokens.TokenError as exc:
        raise HTTPException(404, "No such ticket, or the link is not valid.") from exc


def _link_roles(policy: Policy) -> list[str]:
    """Who besides the filing contact may ask for a new link (links.request_status_link)."""
    roles = (policy.contacts.role(r) for r in policy.contacts.restricted_roles)
    return [r.name.lower() for r in roles if r is not None]


def _link_page(
    request: Request,
    policy: Policy,
    problem: str,
    *,
    number: str,
    email: str = "",
    errors: dict[str, str] | None = None,
    status_code: int,
) -> Response:
    """The page for a link that does not open a ticket: the same for every number, with
    a form that mails a new link to the ticket's listed contact."""
    context = {
        "problem": problem,
        "link_form": {"number": number if numbers.is_number(number) else "", "email": email},
        "link_roles": _link_roles(policy),
        "errors": errors or {},
        "csrf": csrf_token(request),
    }
    return render(request, "tickets/link.html", context, status_code=status_code, no_store=True)


def _without_valid_link(
    request: Request, policy: Policy, number: str, problem: str, status_code: int
) -> Response:
    """``/tickets/<number>`` without a valid link: never the ticket and never the
    knowledge base's 404, but the same page for every number, offering to mail a fresh
    link to the ticket's listed contacts (POST /tickets/link). The one place to change
    for visitors who are known otherwise (a signed-in contact)."""
    return _link_page(request, policy, problem, number=number, status_code=status_code)


async def status_page(request: Request) -> Response:
    policy = http.policy(request)
    token = request.query_params.get("token", "")
    number = str(request.path_params["number"])
    try:
        number = await run_in_threadpool(_verify_status_token, request, token)
    except tokens.TokenError as exc:
        signed_in = await _signed_in_token(request, policy, number)
        if signed_in is not None:  # the signed-in contact of the ticket's account
            filed = request.query_params.get("filed") == "1"
            return await _ticket_page(request, policy, number, just_filed=filed, token=signed_in)
        problem = str(exc) if token else "This address has no link token."
        return _without_valid_link(request, policy, number, problem, 410 if exc.expired else 404)
    return await _ticket_page(request, policy, number, just_filed=False, token=token)


async def request_link(request: Request) -> Response:
    """POST /tickets/link: mail a new status link to a listed contact of the ticket. The
    answer is the same for every ticket number and address."""
    policy = http.policy(request)
    form = await read_form(request)
    number = str(form.get("number") or "").strip().upper()
    email = str(form.get("email") or "").strip()
    errors: dict[str, str] = {}
    if not numbers.is_number(number):
        errors["number"] = "Enter the ticket number, like T-7KQ3-M9XD."
    if len(email) > 254 or not _EMAIL.match(email):
        errors["email"] = "Enter your email address, like name@example.com."
    if errors:
        return _link_page(
            request,
            policy,
            "Please correct the form below.",
            number=number,
            email=email,
            errors=errors,
            status_code=422,
        )
    result = await run_in_threadpool(
        links.request_status_link,
        http.database(request),
        policy,
        http.settings(request),
        number,
        email,
        client=http.client_address(request),
        now=http.now(),
    )
    if result.throttled:
        return render(
            request,
            "message.html",
            {"title": "Please wait a moment", "message": result.message},
            status_code=429,
        )
    http.wake_outbox(request)
    return render(request, "message.html", {"title": "Check your email", "message": result.message})


async def add_to_ticket(request: Request) -> Response:
    """POST /tickets/<number>/<kind>: added information (with an attached file, checked
    like the wizard's uploads), feedback or a complaint, from the ticket's page or from
    "my requests". A problem is shown on the ticket's page, with what was typed."""
    policy = http.policy(request)
    kind = request.path_params["kind"]
    if kind not in ("comment", "feedback", "complaint"):
        raise HTTPException(404, "Unknown action.")
    form = await read_form(request, files=kind == "comment", multiline=lambda n: n == "text")
    try:
        return await _add(request, policy, form, kind)
    finally:
        await form.close()


async def _add(request: Request, policy: Policy, form: FormData, kind: str) -> Response:
    # a valid status link, or the signed-in contact's access ("my requests")
    number, token = await _ticket_number(request, policy, str(form.get("token") or ""))
    text = str(form.get("text") or "").strip()
    settings = http.settings(request)
    files = [f for f in form.getlist("file") if isinstance(f, UploadFile) and f.filename]

    async def problem(message: str, status_code: int = 422) -> Response:
        added = {"text": text, "error": message}
        return await _ticket_page(
            request, policy, number, just_filed=False, token=token, added=added, status=status_code
        )

    if len(files) > 1:
        return await problem("Attach one file at a time; nothing was sent.")
    if not text and not files:
        what = "Write something or attach a file" if kind == "comment" else "Write something"
        return await problem(f"{what} first; nothing was sent.")
    if len(text) > 10_000:
        return await problem("Keep it under 10,000 characters; nothing was sent.", 413)
    stored: list[uploads.StoredFile] = []
    for item in files:
        content = await item.read(settings.max_upload_bytes + 1)
        try:
            saved = await run_in_threadpool(
                uploads.store,
                settings.upload_dir,
                item.filename or "",
                content,
                max_bytes=settings.max_upload_bytes,
            )
        except uploads.UploadError as exc:
            return await problem(f"{exc} Nothing was sent; choose the file again.")
        stored.append(saved)
    try:
        if kind == "comment":
            await run_in_threadpool(
                partial(updates.add_comment, files=stored),
                http.database(request),
                settings,
                number,
                text,
                now=http.now(),
            )
        else:
            await run_in_threadpool(
                updates.add_feedback,
                http.database(request),
                policy,
                settings,
                number,
                text,
                complaint=kind == "complaint",
                now=http.now(),
            )
    except BaseException as exc:  # no row for the files: they must not stay either
        await run_in_threadpool(uploads.remove_files, settings.upload_dir, [f.id for f in stored])
        if isinstance(exc, ValueError):
            raise HTTPException(409, str(exc)) from exc
        raise
    http.wake_outbox(request)
    if form.get("back") == "requests":  # sent from "my requests": back there
        path = request.url_for("accounts.requests").path
        return RedirectResponse(f"{path}?sent={kind}#t-{number}", status_code=303)
    return await _ticket_page(request, policy, number, just_filed=False, token=token, sent=kind)


REQUESTS_API = api.Operation(
    "POST",
    body=api.Body(
        {
            "type": "object",
            "description": (
                "The wizard's fields; what a request type needs is checked as in the "
                "wizard, which names every missing field. Other fields are ignored. "
                "Signed in (the sign-in cookie of POST /api/signin/verify), account, "
                "email, plan, role and version come from the account directory and are "
                "ignored here, and the request is filed at once (201)."
            ),
            "properties": {
                "text": {"type": "string", "description": "what is wrong, under 2,000 characters"},
                "request_type": {"type": "string", "description": "a request type id"},
                "account": {"type": "string", "description": "the account id, e.g. HH-10234"},
                "email": {"type": "string", "description": "a contact address of the account"},
                "plan": {"type": "string", "description": "a plan id"},
                "role": {"type": "string", "description": "a contact role id"},
                "version": {"type": "string", "description": "e.g. 5.4"},
                "tz": {"type": "string", "description": "a time zone, e.g. Europe/Berlin"},
                "priority": {"type": "string", "description": "a priority id"},
                "accept_charges": {
                    "type": "boolean",
                    "description": "true accepts the charges of a paid request type",
                },
                "emergency": {"type": "boolean"},
                "details": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "the request type's details by id",
                },
            },
        },
        max_bytes=MAX_API_BODY,
    ),
    responses={
        201: api.Reply(
            "Signed in: filed at once (its page is ``url``, shown to the signed-in contact)",
            {
                "type": "object",
                "required": ["number", "url"],
                "properties": {"number": {"type": "string"}, "url": {"type": "string"}},
            },
        ),
        202: api.Reply(
            "Accepted for verification: a listed contact gets a link by mail",
            {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            },
        ),
        429: api.Reply("Too many requests from this address or client"),
        503: api.Reply("No support policy, or the database or rate-limit store is down"),
    },
)


async def api_requests(request: Request) -> Response:
    """Submit a request for verification (the same answer for any sender).

    The wizard's fields as JSON, checked the same way. A body with characters that no
    field accepts, in any string at any depth, is refused with 422 naming the fields; it
    is refused before anything depends on the sender and counts toward the rate
    limits."""
    policy = http.policy(request)
    payload = await api.json_body(request, REQUESTS_API)
    if refused_characters(payload):
        refused = await run_in_threadpool(
            submit,
            http.database(request),
            policy,
            http.settings(request),
            payload,
            client=http.client_address(request),
            now=http.now(),
        )
        if refused.throttled:
            return JSONResponse({"error": refused.message}, status_code=429)
        return JSONResponse({"error": refused.message, "fields": refused.errors}, status_code=422)
    api.check_body(REQUESTS_API, payload)
    flat = {k: v if isinstance(v, str) else "" for k, v in payload.items() if k != "details"}
    details = payload.get("details") if isinstance(payload.get("details"), dict) else {}
    accept = "yes" if payload.get("accept_charges") is True else ""
    form = {f"detail_{k}": str(v) for k, v in (details or {}).items() if isinstance(v, str)}
    form["priority"] = flat.get("priority", "")
    form["emergency"] = "yes" if payload.get("emergency") is True else ""
    known = await facts.known(request, policy)  # signed in: who asks is the directory's
    draft, errors = _draft_from_api(policy, flat, accept, form, known=known)
    if errors:
        return JSONResponse(
            {"error": "the request is incomplete", "fields": errors}, status_code=422
        )
    if known is not None:
        return await _api_file_signed_in(request, policy, draft, known)
    result = await run_in_threadpool(
        submit,
        http.database(request),
        policy,
        http.settings(request),
        draft.to_json(),
        client=http.client_address(request),
        now=http.now(),
    )
    if result.throttled:
        return JSONResponse({"error": result.message}, status_code=429)
    if result.errors:
        return JSONResponse({"error": result.message, "fields": result.errors}, status_code=422)
    http.wake_outbox(request)
    return JSONResponse({"message": result.message}, status_code=202)


async def _api_file_signed_in(
    request: Request, policy: Policy, draft: Draft, known: Known
) -> Response:
    """POST /api/requests while signed in: filed at once, 201 with its number and page."""
    filing = await run_in_threadpool(
        file_now,
        http.database(request),
        policy,
        http.settings(request),
        draft.to_json(),
        account_id=known.account,
        email=known.email,
        client=http.client_address(request),
        now=http.now(),
    )
    if filing is None or filing.ticket is None:
        if filing is not None and filing.needs_server:
            fields = {"details.server": "name one of the account's servers (see GET /api/me)"}
            return JSONResponse({"error": "which server?", "fields": fields}, status_code=422)
        problem = (filing.problem if filing else "") or "This request cannot be filed."
        return JSONResponse({"error": problem}, status_code=409)
    http.wake_outbox(request)
    number = filing.ticket.number
    url = str(request.url_for("tickets.status", number=number).path)
    return JSONResponse({"number": number, "url": url}, status_code=201)


def _draft_from_api(
    policy: Policy,
    flat: dict[str, str],
    accept: str,
    form: dict[str, str],
    *,
    known: Known | None = None,
) -> tuple[Draft, dict[str, str]]:
    """The wizard's steps, run in order on the API's fields, as the wizard would
    (signed in, who is asking comes from the directory)."""
    errors: dict[str, str] = {}
    described = check_describe(Draft(), flat)
    chosen = check_choose(policy, described.draft, flat, known=known)
    errors.update(described.errors)
    errors.update(chosen.errors)
    draft = chosen.draft
    if not errors:
        covered = check_coverage(policy, draft, {"accept_charges": accept})
        errors.update(covered.errors)
        draft = covered.draft
    if not errors:
        detailed = check_details(policy, draft, form, now=dt.datetime.now(dt.UTC))
        errors.update(detailed.errors)
        draft = detailed.draft
    return draft, errors


async def attachment(request: Request) -> Response:
    """A ticket's attachment for its customer: always a download, never rendered."""
    policy = http.policy(request)
    number, _token = await _ticket_number(request, policy, request.query_params.get("token", ""))
    view = await run_in_threadpool(queries.load_ticket, http.database(request), number)
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
