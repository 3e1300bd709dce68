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
    expected_emergency,
    first_response_due,
    ordinary_priorities,
    ordinary_priority,
)
from kb.policy.suggest import suggest
from portal import analytics, http, inputs, offload
from portal.sessions import check_csrf, csrf_token, rotate, session_id
from portal.templating import render
from portal.tickets.views import submit_reviewed
from portal.wizard import drafts, uploads
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
    multiline_field,
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
# fields whose step shows a refused character next to the field, with what was typed
# (portal/wizard/flow.py); ``_form`` refuses every other field itself
INLINE_CHECKED = {
    "/request": frozenset({"text"}),
    "/request/choose": frozenset(
        {"request_type", "account", "email", "plan", "role", "version", "tz"}
    ),
    "/request/details": frozenset({"priority"} | {f"detail_{d}" for d in DETAIL_FIELDS}),
}


async def _form(request: Request, *, files: bool = False) -> FormData:
    """The submitted form, CSRF-checked. Forms that take no files refuse them; the
    caller of a form with files must ``await form.close()``."""
    settings = http.settings(request)
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
    inline = INLINE_CHECKED.get(request.url.path, frozenset())
    refused = inputs.check_fields(
        ((k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in inline),
        multiline=multiline_field,
    )
    try:
        check_csrf(request, token if isinstance(token, str) else None)
        if refused:
            name, problem = next(iter(refused.items()))
            raise HTTPException(
                422,
                f"The form field “{name}” was refused. {problem} "
                "Go back to change it: what you typed is still there.",
            )
    except HTTPException:
        await form.close()
        raise
    return form


def _plain(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _draft(request: Request) -> dict[str, Any] | None:
    return await run_in_threadpool(drafts.load, http.database(request), session_id(request))


async def _save(request: Request, data: dict[str, Any]) -> None:
    data["_id"] = await run_in_threadpool(
        drafts.save, http.database(request), session_id(request), data
    )


async def _remove_files(request: Request, ids: list[str]) -> None:
    """Delete the files of uploads the draft no longer holds (rows already gone)."""
    if ids:
        directory = http.settings(request).upload_dir
        await run_in_threadpool(uploads.remove_files, directory, ids)


async def _rotate_session(request: Request) -> None:
    """A new session id for this browser, taking its draft along: a cookie planted
    before (session fixation) no longer shows what is entered from now on."""
    old, new = rotate(request)
    await run_in_threadpool(drafts.move, http.database(request), old, new)


async def _event(request: Request, kind: str, key: str = "") -> None:
    await run_in_threadpool(analytics.record, http.database(request), kind, key)


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
    policy = http.policy(request)
    data = await _draft(request) or {}
    needed = first_incomplete(policy, data, now=http.now())
    if STEPS.index(needed) < STEPS.index(step):
        return _redirect(needed)
    return policy, data


def _articles(request: Request, text: str) -> list[dict[str, Any]]:
    result = http.knowledge(request).searcher.search(text, limit=3, facets=False)
    kb = http.knowledge(request)
    return [{"hit": hit, "body": kb.fragment(hit.slug)} for hit in result.hits]


def _suggested_types(request: Request, policy: Policy, text: str) -> list[Any]:
    synonyms = http.knowledge(request).searcher.synonym_groups()
    return [s.request_type for s in suggest(policy, text, synonyms=synonyms, limit=4)]


# --- step 1: describe ----------------------------------------------------------------


async def describe(request: Request) -> Response:
    policy = http.policy(request)
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
                if data.get("attachments"):
                    dropped = await run_in_threadpool(
                        drafts.clear_attachments,
                        http.database(request),
                        session_id(request),
                        data["_id"],
                    )
                    await _remove_files(request, dropped)
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
    context.update(
        await suggestions(request, policy, text) if text else {"articles": [], "types": []}
    )
    return render(
        request,
        "wizard/describe.html",
        context,
        status_code=422 if errors else 200,
        no_store=True,
    )


async def suggestions(request: Request, policy: Policy, text: str) -> dict[str, Any]:
    """Matching articles and request types, computed in a worker thread: searching and
    scoring are CPU work (bounded, but not free) that must not hold up the event loop."""
    return await offload.run(_suggestions, request, policy, text)


def _suggestions(request: Request, policy: Policy, text: str) -> dict[str, Any]:
    return {
        "articles": _articles(request, text),
        "types": _suggested_types(request, policy, text),
    }


async def suggest_fragment(request: Request) -> Response:
    """Live suggestions while the customer types (htmx)."""
    policy = http.policy(request)
    form = await _form(request)
    text = str(form.get("text") or "")[:2000]
    context = {
        "policy": policy,
        "csrf": csrf_token(request),
        "text": text,
        **(
            await suggestions(request, policy, text)
            if len(text.strip()) >= 3
            else {"articles": [], "types": []}
        ),
    }
    shown = [a["hit"].slug for a in context["articles"]]
    if len(text.strip()) >= 3:
        if shown:
            await run_in_threadpool(
                analytics.record_many, http.database(request), "suggested", shown
            )
        else:
            await _event(request, "search_no_results", analytics.scrub(text))
    return render(request, "wizard/_suggestions.html", context, no_store=True)


async def solved(request: Request) -> Response:
    """'This solved my problem': the flow ends here and counts as a deflection."""
    form = await _form(request)
    slug = str(form.get("slug") or "")
    step = str(form.get("step") or "describe")
    article = http.knowledge(request).article(slug)
    if article is None:
        raise HTTPException(404, "Unknown article.")
    await _event(request, "deflected", slug)
    await _event(request, "deflected_at", step if step in STEPS else "describe")
    dropped = await run_in_threadpool(
        drafts.discard, http.database(request), session_id(request), forget_uploads=True
    )
    await _remove_files(request, dropped)
    return render(request, "wizard/solved.html", {"article": article}, no_store=True)


async def restart(request: Request) -> Response:
    await _form(request)
    dropped = await run_in_threadpool(
        drafts.discard, http.database(request), session_id(request), forget_uploads=True
    )
    await _remove_files(request, dropped)
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
                # the old type's attachments are not asked for any more
                if data.pop("attachments", None):
                    dropped = await run_in_threadpool(
                        drafts.clear_attachments,
                        http.database(request),
                        session_id(request),
                        data["_id"],
                    )
                    await _remove_files(request, dropped)
            who = (checked.values.get("email"), checked.values.get("account"))
            if who != (data.get("email"), data.get("account")):
                await _rotate_session(request)  # the draft now names a person
            data.update(checked.values)
            data["done"] = sorted(set(data.get("done") or []) | {"choose"})
            await _save(request, data)
            await _event(request, "step", "coverage")
            return _redirect("coverage")
        errors = checked.errors
    context = _context(request, policy, "choose", data, errors=errors, form=form)
    context.update(await suggestions(request, policy, data["text"]))
    shown = [a["hit"].slug for a in context["articles"]]
    if request.method == "GET":
        await run_in_threadpool(analytics.record_many, http.database(request), "suggested", shown)
    context["groups"] = policy.request_type_groups()
    context["timezones"] = sorted(TIMEZONES)
    return render(
        request, "wizard/choose.html", context, status_code=422 if errors else 200, no_store=True
    )


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
    kb = http.knowledge(request)
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
    return render(request, "wizard/coverage.html", context, status_code=status, no_store=True)


# --- step 4: details ---------------------------------------------------------------------


async def _store_uploads(
    request: Request, policy: Policy, data: dict[str, Any], form: FormData, errors: dict[str, str]
) -> None:
    """Store the uploads of this POST, one per file detail of the request type: a new
    upload replaces the slot's old one and "remove" empties it, and the files the draft
    no longer holds are deleted at once (so a session never keeps more files than its
    request type asks for)."""
    settings = http.settings(request)
    db, sid, draft_id = http.database(request), session_id(request), data.get("_id")
    rt = policy.request_types[data["request_type"]]
    attachments = dict(data.get("attachments") or {})
    for detail_id in rt.details:
        if DETAIL_FIELDS[detail_id].kind != "file":
            continue
        if form.get(f"remove_{detail_id}"):
            attachments, dropped = await run_in_threadpool(
                drafts.detach, db, sid, draft_id, detail_id
            )
            await _remove_files(request, dropped)
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
        try:
            attachments, dropped = await run_in_threadpool(
                drafts.attach, db, sid, draft_id, detail_id, stored
            )
        except Exception:  # no row for it: the file must not stay either
            await _remove_files(request, [stored.id])
            raise
        await _remove_files(request, dropped)
    data["attachments"] = attachments


async def details(request: Request) -> Response:
    guard = await _guard(request, "details")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    rt = policy.request_types[data["request_type"]]
    errors: dict[str, str] = {}
    form: dict[str, str] = {f"detail_{k}": v for k, v in (data.get("details") or {}).items()}
    form["priority"] = data.get("priority") or ordinary_priority(policy, rt.id)
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
            policy, data, form, attachments=data.get("attachments"), now=http.now()
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
        # the emergency priority is not offered: it comes only with an accepted claim
        priorities=[
            policy.priorities[p] for p in ordinary_priorities(policy, rt.id) or rt.priorities
        ],
        max_upload_mb=http.settings(request).max_upload_bytes // (1024 * 1024),
    )
    return render(
        request, "wizard/details.html", context, status_code=422 if errors else 200, no_store=True
    )


# --- step 5: review ------------------------------------------------------------------------


def expected_response(
    policy: Policy,
    data: dict[str, Any],
    decision: EmergencyDecision,
    now: dt.datetime,
    *,
    priority: str | None = None,
    emergency: bool | None = None,
) -> tuple[Due, str | None]:
    """The first response the decision gives (or the one at ``priority``, not as an
    emergency): the due moment and the same moment in the customer's time zone."""
    due = first_response_due(
        policy,
        data["plan"],
        priority or decision.priority,
        now,
        emergency=decision.accepted if emergency is None else emergency,
    )
    if due.at is None:
        return due, None
    tz = zoneinfo.ZoneInfo(data.get("tz") or policy.provider.timezone)
    local = due.at.astimezone(tz)
    return due, local.strftime("%a %-d %b, %H:%M")


def review_context(policy: Policy, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """What filing will do, as far as the policy alone decides. The anonymous wizard does
    not know the account (and must not reveal whether the sender is listed), so an
    accepted emergency is shown as provisional, with what happens otherwise; the emailed
    filing link shows the decision filing will make."""
    rt = policy.request_types[data["request_type"]]
    cov = current_coverage(policy, data)
    decision = expected_emergency(
        policy,
        rt.id,
        data["plan"],
        data.get("priority") or "",
        claimed=bool(data.get("emergency_claimed")),
        now=now,
    )
    due, due_local = expected_response(policy, data, decision, now)
    otherwise: tuple[Due, str | None] | None = None
    if decision.provisional and decision.fallback_priority:
        otherwise = expected_response(
            policy, data, decision, now, priority=decision.fallback_priority, emergency=False
        )
    return {
        "request_type": rt,
        "plan": policy.plans[data["plan"]],
        "coverage": cov,
        "decision": decision,
        "due": due,
        "due_local": due_local,
        "due_otherwise": otherwise[0] if otherwise else None,
        "due_otherwise_local": otherwise[1] if otherwise else None,
        "version": check_version(policy, data.get("version")),
        "fields": [DETAIL_FIELDS[d] for d in rt.details],
    }


async def review(request: Request) -> Response:
    guard = await _guard(request, "review")
    if isinstance(guard, Response):
        return guard
    policy, data = guard
    now = http.now()
    if request.method == "POST":
        await _form(request)
        # a new session id from here on (the draft goes along and is then discarded):
        # whoever held the old cookie cannot follow the request being sent
        await _rotate_session(request)
        # everything was checked again by _guard: hand it over for verification
        return await submit_reviewed(request, policy, data)
    context = _context(request, policy, "review", data, **review_context(policy, data, now))
    return render(request, "wizard/review.html", context, no_store=True)
