"""HTTP views of the wizard: plain forms and full pages (POST, then redirect to the
next step's URL); htmx only adds live suggestions while the customer types."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS
from kb.policy.engine import (
    Due,
    EmergencyDecision,
    check_version,
    describe_rate,
    first_response_due,
    gate_emergency,
)
from kb.policy.suggest import suggest
from portal import analytics, uploads
from portal.db.engine import Database
from portal.db.models import Upload
from portal.sessions import check_csrf, csrf_token, session_id
from portal.templating import render
from portal.tickets.views import submit_reviewed
from portal.web import database as _db
from portal.web import now as _now
from portal.web import policy as _policy
from portal.wizard import drafts
from portal.wizard.flow import (
    OPTIONAL_DETAILS,
    STEPS,
    TIMEZONES,
    Checked,
    acceptance_key,
    check_choose,
    check_coverage,
    check_describe,
    check_details,
    current_coverage,
    first_incomplete,
)

STEP_URLS = {
    "describe": "/request",
    "choose": "/request/choose",
    "coverage": "/request/coverage",
    "details": "/request/details",
    "review": "/request/review",
}
STEP_TITLES = {
    "describe": "Describe",
    "choose": "Choose",
    "coverage": "Coverage",
    "details": "Details",
    "review": "Review",
}
MAX_FORM_FIELDS = 60
MAX_FORM_FILES = 2


async def _form(request: Request, *, files: bool = False) -> FormData:
    """The submitted form, CSRF-checked. Forms that take no files refuse them; the
    caller of a form with files must ``await form.close()``."""
    settings = request.app.state.settings
    try:
        form = await request.form(
            max_files=MAX_FORM_FILES if files else 0,
            max_fields=MAX_FORM_FIELDS,
            max_part_size=settings.max_upload_bytes + 1024,
        )
    except HTTPException as exc:
        if exc.status_code == 413:
            raise
        if "exceeded maximum size" in str(exc.detail) or "Part exceeded" in str(exc.detail):
            limit = settings.max_upload_bytes // (1024 * 1024)
            raise HTTPException(413, f"The upload is too large; the limit is {limit} MB.") from exc
        raise HTTPException(400, f"The form could not be read: {exc.detail}") from exc
    except Exception as exc:  # malformed multipart or urlencoded bodies
        raise HTTPException(400, "The form could not be read; please submit it again.") from exc
    token = form.get("csrf_token")
    try:
        check_csrf(request, token if isinstance(token, str) else None)
    except HTTPException:
        await form.close()
        raise
    return form


def _plain(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _draft(request: Request) -> dict[str, Any] | None:
    return await run_in_threadpool(drafts.load, _db(request), session_id(request))


async def _save(request: Request, data: dict[str, Any]) -> None:
    data["_id"] = await run_in_threadpool(drafts.save, _db(request), session_id(request), data)


async def _event(request: Request, kind: str, key: str = "") -> None:
    await run_in_threadpool(analytics.record, _db(request), kind, key)


def _redirect(step: str) -> Response:
    return RedirectResponse(STEP_URLS[step], status_code=303)


def _context(
    request: Request, policy: Policy, step: str, data: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "policy": policy,
        "step": step,
        "steps": [(s, STEP_TITLES[s], STEP_URLS[s]) for s in STEPS],
        "step_index": STEPS.index(step),
        "data": data,
        "csrf": csrf_token(request),
        "errors": {},
        "form": {},
        **extra,
    }


async def _guard(request: Request, step: str) -> tuple[Policy, dict[str, Any]] | Response:
    """The policy and draft when ``step`` may be shown, else a redirect to the first
    step that still needs the customer."""
    policy = _policy(request)
    data = await _draft(request) or {}
    needed = first_incomplete(policy, data, now=_now())
    if STEPS.index(needed) < STEPS.index(step):
        return _redirect(needed)
    return policy, data


def _articles(request: Request, text: str) -> list[dict[str, Any]]:
    result = request.app.state.kb.searcher.search(text, limit=3, facets=False)
    kb = request.app.state.kb
    return [{"hit": hit, "body": kb.fragment(hit.slug)} for hit in result.hits]


def _suggested_types(request: Request, policy: Policy, text: str) -> list[Any]:
    synonyms = request.app.state.kb.searcher.synonym_groups()
    return [s.request_type for s in suggest(policy, text, synonyms=synonyms, limit=4)]


# --- step 1: describe ----------------------------------------------------------------


async def describe(request: Request) -> Response:
    policy = _policy(request)
    data = await _draft(request) or {}
    errors: dict[str, str] = {}
    form: dict[str, str] = {"text": data.get("text", "")}
    if request.method == "POST":
        submitted = await _form(request)
        checked = check_describe(_plain(submitted))
        form = _plain(submitted)
        if checked.ok:
            if checked.values["text"] != data.get("text"):
                # a new problem: what was chosen for the old one no longer applies
                data = {"_id": data.get("_id"), "done": []}
            data.update(checked.values)
            data["done"] = sorted(set(data.get("done") or []) | {"describe"})
            await _save(request, data)
            await _event(request, "step", "choose")
            return _redirect("choose")
        errors = checked.errors
    else:
        await _event(request, "step", "describe")
    context = _context(request, policy, "describe", data, errors=errors, form=form)
    text = form.get("text", "")
    context.update(suggestions(request, policy, text) if text else {"articles": [], "types": []})
    return render(request, "wizard/describe.html", context, status_code=422 if errors else 200)


def suggestions(request: Request, policy: Policy, text: str) -> dict[str, Any]:
    return {
        "articles": _articles(request, text),
        "types": _suggested_types(request, policy, text),
    }


async def suggest_fragment(request: Request) -> Response:
    """Live suggestions while the customer types (htmx)."""
    policy = _policy(request)
    form = await _form(request)
    text = str(form.get("text") or "")[:2000]
    context = {
        "policy": policy,
        "csrf": csrf_token(request),
        "text": text,
        **(
            suggestions(request, policy, text)
            if len(text.strip()) >= 3
            else {"articles": [], "types": []}
        ),
    }
    shown = [a["hit"].slug for a in context["articles"]]
    if len(text.strip()) >= 3:
        if shown:
            await run_in_threadpool(analytics.record_many, _db(request), "suggested", shown)
        else:
            await _event(request, "search_no_results", analytics.scrub(text))
    return render(request, "wizard/_suggestions.html", context)


async def solved(request: Request) -> Response:
    """'This solved my problem': the flow ends here and counts as a deflection."""
    form = await _form(request)
    slug = str(form.get("slug") or "")
    step = str(form.get("step") or "describe")
    article = request.app.state.kb.article(slug)
    if article is None:
        raise HTTPException(404, "Unknown article.")
    await _event(request, "deflected", slug)
    await _event(request, "deflected_at", step if step in STEPS else "describe")
    await run_in_threadpool(drafts.discard, _db(request), session_id(request))
    return render(request, "wizard/solved.html", {"article": article})


async def restart(request: Request) -> Response:
    await _form(request)
    await run_in_threadpool(drafts.discard, _db(request), session_id(request))
    return _redirect("describe")


# --- step 2: choose --------------------------------------------------------------------


async def choose(request: Request) -> Response:
    guard = await _guard(request, "choose")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    errors: dict[str, str] = {}
    form = {
        k: str(data.get(k) or "")
        for k in ("request_type", "account", "email", "plan", "role", "version", "tz")
    }
    if request.method == "POST":
        submitted = await _form(request)
        form = _plain(submitted)
        checked = check_choose(policy, form)
        if checked.ok:
            if checked.values["request_type"] != data.get("request_type"):
                data.pop("details", None)
                data.pop("priority", None)
                data.pop("accepted", None)
            data.update(checked.values)
            data["done"] = sorted(set(data.get("done") or []) | {"choose"})
            await _save(request, data)
            await _event(request, "step", "coverage")
            return _redirect("coverage")
        errors = checked.errors
    context = _context(request, policy, "choose", data, errors=errors, form=form)
    context.update(suggestions(request, policy, data["text"]))
    shown = [a["hit"].slug for a in context["articles"]]
    if request.method == "GET":
        await run_in_threadpool(analytics.record_many, _db(request), "suggested", shown)
    context["groups"] = policy.request_type_groups()
    context["timezones"] = sorted(TIMEZONES)
    return render(request, "wizard/choose.html", context, status_code=422 if errors else 200)


# --- step 3: coverage -------------------------------------------------------------------


async def coverage_step(request: Request) -> Response:
    guard = await _guard(request, "coverage")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    errors: dict[str, str] = {}
    if request.method == "POST":
        submitted = await _form(request)
        checked = check_coverage(policy, data, _plain(submitted))
        if checked.ok:
            data.update(checked.values)
            data["done"] = sorted(set(data.get("done") or []) | {"coverage"})
            await _save(request, data)
            await _event(request, "step", "details")
            return _redirect("details")
        errors = checked.errors
    cov = current_coverage(policy, data)
    kb = request.app.state.kb
    context = _context(
        request,
        policy,
        "coverage",
        data,
        errors=errors,
        coverage=cov,
        request_type=policy.request_types[data["request_type"]],
        plan=policy.plans[data["plan"]],
        alternative=kb.article(cov.alternative) if cov.alternative else None,
        related=[a for a in (kb.article(s) for s in cov.articles) if a],
        accepted=data.get("accepted") == acceptance_key(cov),
        rate_text=describe_rate(policy, cov.estimate.rate)
        if cov.estimate and cov.estimate.rate
        else "",
    )
    status = 422 if errors else 200
    return render(request, "wizard/coverage.html", context, status_code=status)


# --- step 4: details ---------------------------------------------------------------------


async def _store_uploads(
    request: Request, policy: Policy, data: dict[str, Any], form: FormData, errors: dict[str, str]
) -> None:
    settings = request.app.state.settings
    rt = policy.request_types[data["request_type"]]
    attachments = dict(data.get("attachments") or {})
    for detail_id in rt.details:
        if DETAIL_FIELDS[detail_id].kind != "file":
            continue
        if form.get(f"remove_{detail_id}"):
            attachments.pop(detail_id, None)
        item = form.get(f"detail_{detail_id}")
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        content = await item.read(settings.max_upload_bytes + 1)
        try:
            stored = await run_in_threadpool(
                uploads.store,
                settings.upload_dir,
                item.filename,
                content,
                max_bytes=settings.max_upload_bytes,
            )
        except uploads.UploadError as exc:
            errors[detail_id] = str(exc)
            continue
        await run_in_threadpool(_record_upload, _db(request), stored, data.get("_id"))
        attachments[detail_id] = {"id": stored.id, "filename": stored.filename, "size": stored.size}
    data["attachments"] = attachments


def _record_upload(db: Database, stored: uploads.StoredFile, draft_id: str | None) -> None:
    with db.session() as session:
        session.add(
            Upload(
                id=stored.id,
                draft_id=draft_id,
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
                sha256=stored.sha256,
            )
        )


async def details(request: Request) -> Response:
    guard = await _guard(request, "details")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    rt = policy.request_types[data["request_type"]]
    errors: dict[str, str] = {}
    form: dict[str, str] = {f"detail_{k}": v for k, v in (data.get("details") or {}).items()}
    form["priority"] = data.get("priority") or rt.default_priority or ""
    form["emergency"] = "yes" if data.get("emergency_claimed") else ""
    if request.method == "POST":
        submitted = await _form(request, files=True)
        form = _plain(submitted)
        upload_errors: dict[str, str] = {}
        try:
            await _store_uploads(request, policy, data, submitted, upload_errors)
        finally:
            await submitted.close()
        checked: Checked = check_details(
            policy, data, form, attachments=data.get("attachments"), now=_now()
        )
        errors = {**checked.errors, **upload_errors}
        # keep what was typed and what was attached, even when something must be fixed
        data.update(checked.values)
        if not errors:
            data["done"] = sorted(set(data.get("done") or []) | {"details"})
            await _save(request, data)
            await _event(request, "step", "review")
            return _redirect("review")
        data["done"] = [s for s in data.get("done") or [] if s != "details"]
        await _save(request, data)
    context = _context(
        request,
        policy,
        "details",
        data,
        errors=errors,
        form=form,
        request_type=rt,
        fields=[DETAIL_FIELDS[d] for d in rt.details],
        optional=OPTIONAL_DETAILS,
        priorities=[policy.priorities[p] for p in rt.priorities],
        max_upload_mb=request.app.state.settings.max_upload_bytes // (1024 * 1024),
    )
    return render(request, "wizard/details.html", context, status_code=422 if errors else 200)


# --- step 5: review ------------------------------------------------------------------------


def expected_response(
    policy: Policy, data: dict[str, Any], decision: EmergencyDecision, now: dt.datetime
) -> tuple[Due, str | None]:
    due = first_response_due(
        policy, data["plan"], decision.priority, now, emergency=decision.accepted
    )
    if due.at is None:
        return due, None
    tz = zoneinfo.ZoneInfo(data.get("tz") or policy.provider.timezone)
    local = due.at.astimezone(tz)
    return due, local.strftime("%a %-d %b, %H:%M")


def review_context(policy: Policy, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    rt = policy.request_types[data["request_type"]]
    cov = current_coverage(policy, data)
    decision = gate_emergency(
        policy,
        rt.id,
        data["plan"],
        data.get("priority") or rt.default_priority or "",
        claimed=bool(data.get("emergency_claimed")),
        now=now,
    )
    due, due_local = expected_response(policy, data, decision, now)
    return {
        "request_type": rt,
        "plan": policy.plans[data["plan"]],
        "coverage": cov,
        "decision": decision,
        "due": due,
        "due_local": due_local,
        "version": check_version(policy, data.get("version")),
        "fields": [DETAIL_FIELDS[d] for d in rt.details],
    }


async def review(request: Request) -> Response:
    guard = await _guard(request, "review")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    now = _now()
    if request.method == "POST":
        await _form(request)
        # everything was checked again by _guard: hand it over for verification
        return await submit_reviewed(request, policy, data)
    context = _context(request, policy, "review", data, **review_context(policy, data, now))
    return render(request, "wizard/review.html", context)
