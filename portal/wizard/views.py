"""HTTP views of the wizard: plain forms and full pages (POST, then redirect to the
next step's URL); htmx only adds live suggestions while the customer types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS, group_text, required_details
from kb.policy.emergencies import explain_emergencies
from kb.policy.engine import (
    Due,
    EmergencyDecision,
    check_version,
    describe_rate,
    expected_emergency,
    first_response_due,
    gate_emergency,
    ordinary_priorities,
    ordinary_priority,
)
from kb.policy.model import RequestType
from kb.policy.suggest import suggest
from portal import analytics, http, offload
from portal.directory.servers import directory_servers
from portal.forms import plain, read_form
from portal.incidents import views as incidents
from portal.sessions import csrf_token, session_id
from portal.templating import is_htmx, render
from portal.timefmt import human_time, ticket_zone
from portal.wizard import drafts, uploads, zones
from portal.wizard import signed_in as facts
from portal.wizard.flow import (
    SERVER_COUNT,
    STEPS,
    TIMEZONES,
    Draft,
    Known,
    acceptance_key,
    check_all,
    check_choose,
    check_coverage,
    check_describe,
    check_details,
    choose_form,
    current_coverage,
    details_form,
    multiline_field,
    plan_price_for,
    plan_prices,
    who_may_ask,
)
from portal.wizard.flow import facts as draft_facts

# the route name of each step (portal/app.py)
STEP_ROUTES = {
    "describe": "wizard.describe",
    "choose": "wizard.choose",
    "coverage": "wizard.coverage",
    "details": "wizard.details",
    "review": "wizard.review",
}
STEP_TITLES = {
    "describe": "Describe",
    "choose": "Choose",
    "coverage": "Coverage",
    "details": "Details",
    "review": "Review",
}
# fields whose step shows a refused character next to the field, with what was typed
# (portal/wizard/flow.py); ``read_form`` refuses every other field itself
INLINE_CHECKED = {
    "describe": frozenset({"text"}),
    "choose": frozenset({"request_type", "account", "email", "plan", "role", "version", "tz"}),
    "details": frozenset({"priority"} | {f"detail_{d}" for d in DETAIL_FIELDS}),
}


async def _form(request: Request, step: str = "", *, files: bool = False) -> FormData:
    """A step's submitted form (``portal.forms.read_form``)."""
    return await read_form(
        request,
        files=files,
        inline=INLINE_CHECKED.get(step, frozenset()),
        multiline=multiline_field,
    )


async def _draft(request: Request) -> Draft:
    return await run_in_threadpool(drafts.load, http.database(request), session_id(request))


async def _save(request: Request, draft: Draft) -> None:
    draft.id = await run_in_threadpool(
        drafts.save, http.database(request), session_id(request), draft
    )


async def _remove_files(request: Request, ids: list[str]) -> None:
    """Delete the files of uploads the draft no longer holds (rows already gone)."""
    if ids:
        directory = http.settings(request).upload_dir
        await run_in_threadpool(uploads.remove_files, directory, ids)


async def _rotate_session(request: Request) -> None:
    await drafts.rotate_session(request)


async def _event(request: Request, kind: str, key: str = "") -> None:
    await run_in_threadpool(analytics.record, http.database(request), kind, key)


def step_url(request: Request, step: str) -> str:
    return str(request.url_for(STEP_ROUTES[step]).path)


def redirect_to_step(request: Request, step: str) -> Response:
    return RedirectResponse(step_url(request, step), status_code=303)


def _context(
    request: Request, policy: Policy, step: str, draft: Draft, **extra: Any
) -> dict[str, Any]:
    return {
        "policy": policy,
        "step": step,
        "steps": [(s, STEP_TITLES[s], step_url(request, s)) for s in STEPS],
        "step_index": STEPS.index(step),
        "data": draft,
        "csrf": csrf_token(request),
        "errors": {},
        "form": {},
        # signed in: the directory's facts (portal.wizard.signed_in; set by ``guard``)
        "known": getattr(request.state, "known", None),
        **extra,
    }


async def guard(request: Request, step: str) -> tuple[Policy, Draft] | Response:
    """The policy and draft when ``step`` may be shown, else a redirect to the first
    step that still needs the customer (every stored step is checked again)."""
    policy = http.policy(request)
    draft = await _draft(request)
    known = await facts.known(request, policy)  # signed in: the directory's facts
    needed = check_all(policy, draft, now=http.now(), known=known)
    if STEPS.index(needed) < STEPS.index(step):
        return redirect_to_step(request, needed)
    return policy, draft


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
    draft = await _draft(request)
    errors: dict[str, str] = {}
    form: dict[str, str] = {
        "text": draft.text or request.query_params.get("text", "")[:2000],
        # "Didn't solve it?" under an article: its request types come first later on
        "suggested": request.query_params.get("types", "")[:500],
    }
    if request.method == "POST":
        submitted = plain(await _form(request, "describe"))
        checked = check_describe(draft, submitted)
        form = submitted
        if checked.ok:
            if checked.draft.text != draft.text and draft.done:
                # a new problem: what was chosen for the old one no longer applies
                await _drop_attachments(request, draft)
                checked = check_describe(Draft(id=draft.id), submitted)
            draft = checked.draft
            named = submitted.get("suggested", "").split(",")
            if any(named):
                draft.suggested = tuple(t for t in named if t in policy.request_types)[:5]
            draft.finish("describe")
            await _save(request, draft)
            await _event(request, "step", "choose")
            return redirect_to_step(request, "choose")
        errors = checked.errors
    else:
        await _event(request, "step", "describe")
    context = _context(request, policy, "describe", draft, errors=errors, form=form)
    text = form.get("text", "")
    context.update(
        await suggestions(request, policy, text) if text else {"articles": [], "types": []}
    )
    context["types"] = _first(policy, form.get("suggested", "").split(","), context["types"])
    # a known incident that matches comes first, with "Tell me when it's fixed"
    context.update(
        await incidents.wizard_context(request, text, email=draft.email, account=draft.account)
    )
    return render(
        request,
        "wizard/describe.html",
        context,
        status_code=422 if errors else 200,
        no_store=True,
    )


def _first(policy: Policy, ids: list[str], types: list[Any]) -> list[Any]:
    """The request types named by an article first, then the suggested ones."""
    named = [policy.request_types[t] for t in dict.fromkeys(ids) if t in policy.request_types]
    return named + [t for t in types if t not in named]


async def _drop_attachments(request: Request, draft: Draft) -> None:
    """The draft's uploads are no longer asked for (its problem or type changed)."""
    if draft.attachments:
        dropped = await run_in_threadpool(
            drafts.clear_attachments, http.database(request), session_id(request), draft.id
        )
        draft.attachments = {}
        await _remove_files(request, dropped)


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
    if len(text.strip()) >= 3:
        context.update(await incidents.wizard_context(request, text))
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
    return redirect_to_step(request, "describe")


# --- step 2: choose --------------------------------------------------------------------


async def choose(request: Request) -> Response:
    checked_guard = await guard(request, "choose")
    if isinstance(checked_guard, Response):
        return checked_guard
    policy, draft = checked_guard
    errors: dict[str, str] = {}
    form = choose_form(draft)
    if request.method == "POST":
        form = plain(await _form(request, "choose"))
        known = await facts.known(request, policy)
        checked = check_choose(policy, draft, form, known=known)
        if checked.ok:
            new = checked.draft
            if new.request_type != draft.request_type:
                new.details, new.priority, new.accepted = {}, "", None
                await _drop_attachments(request, new)  # the old type's files
            # the draft now names a person (signed in, the id was rotated at sign-in)
            if known is None and (new.email, new.account) != (draft.email, draft.account):
                await _rotate_session(request)
            new.finish("choose")
            await _save(request, new)
            await _event(request, "step", "coverage")
            return redirect_to_step(request, "coverage")
        errors = checked.errors
    context = _context(request, policy, "choose", draft, errors=errors, form=form)
    context.update(await suggestions(request, policy, draft.text))
    context["types"] = _first(policy, list(draft.suggested), context["types"])
    context.update(
        await incidents.wizard_context(
            request, draft.text, email=draft.email, account=draft.account
        )
    )
    shown = [a["hit"].slug for a in context["articles"]]
    if request.method == "GET":
        await run_in_threadpool(analytics.record_many, http.database(request), "suggested", shown)
    context["groups"] = policy.request_type_groups()
    known_facts = await facts.known(request, policy)
    # signed in: the types this contact's role may not ask for, with who may
    context["may_not_ask"] = (
        {t: who_may_ask(policy, t, known_facts) for t in policy.request_types}
        if known_facts is not None
        else {}
    )
    context["emergencies"] = explain_emergencies(policy)
    # the zone picker without JavaScript: by region, common zones first, the default
    # from the browser's language (portal/wizard/zones.py)
    default_tz = zones.default_zone(
        request.headers.get("accept-language"), policy.provider.timezone, TIMEZONES
    )
    chosen_tz = form.get("tz") or default_tz
    context["default_tz"] = default_tz
    context["zone_groups"] = zones.zone_groups(
        TIMEZONES, (chosen_tz, default_tz, policy.provider.timezone)
    )
    return render(
        request, "wizard/choose.html", context, status_code=422 if errors else 200, no_store=True
    )


# --- step 3: coverage -------------------------------------------------------------------


async def coverage_step(request: Request) -> Response:
    checked_guard = await guard(request, "coverage")
    if isinstance(checked_guard, Response):
        return checked_guard
    policy, draft = checked_guard
    errors: dict[str, str] = {}
    claimed = draft.waivers  # the boxes ticked: stored, or just posted with an error
    if request.method == "POST":
        checked = check_coverage(policy, draft, plain(await _form(request, "coverage")))
        if checked.ok:
            checked.draft.finish("coverage")
            await _save(request, checked.draft)
            await _event(request, "step", "details")
            return redirect_to_step(request, "details")
        errors = checked.errors
        claimed = checked.draft.waivers
    cov = current_coverage(policy, draft)
    kb = http.knowledge(request)
    context = _context(
        request,
        policy,
        "coverage",
        draft,
        errors=errors,
        coverage=cov,
        request_type=policy.request_types[draft.request_type],
        plan=policy.plans.get(draft.plan),  # None: the account has no plan
        alternative=kb.article(cov.alternative) if cov.alternative else None,
        related=[a for a in (kb.article(s) for s in cov.articles) if a],
        accepted=draft.accepted == acceptance_key(cov),
        claimed=frozenset(claimed),
        # an emergency-capable type: what the claim is, and how it differs from a priority
        emergencies=explain_emergencies(policy)
        if policy.request_types[draft.request_type].emergency
        else None,
        rate_text=describe_rate(policy, cov.estimate.rate)
        if cov.estimate and cov.estimate.rate
        else "",
    )
    status = 422 if errors else 200
    return render(request, "wizard/coverage.html", context, status_code=status, no_store=True)


# --- step 4: details ---------------------------------------------------------------------


async def _store_uploads(
    request: Request, policy: Policy, draft: Draft, form: FormData, errors: dict[str, str]
) -> None:
    """Store the uploads of this POST, one per file detail of the request type: a new
    upload replaces the slot's old one and "remove" empties it, and the files the draft
    no longer holds are deleted at once (so a session never keeps more files than its
    request type asks for)."""
    settings = http.settings(request)
    db, sid = http.database(request), session_id(request)
    rt = policy.request_types[draft.request_type]
    for detail_id in rt.details:
        if DETAIL_FIELDS[detail_id].kind != "file":
            continue
        if form.get(f"remove_{detail_id}"):
            draft.attachments, dropped = await run_in_threadpool(
                drafts.detach, db, sid, draft.id, detail_id
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
            draft.attachments, dropped = await run_in_threadpool(
                drafts.attach, db, sid, draft.id, detail_id, stored
            )
        except Exception:  # no row for it: the file must not stay either
            await _remove_files(request, [stored.id])
            raise
        await _remove_files(request, dropped)


def _detail_sections(rt: RequestType) -> list[dict[str, Any]]:
    """The details form in the type's order: single fields, and each "one of these"
    group (at its first detail's place) with its options and the policy's words."""
    groups = {d: i for i, g in enumerate(rt.detail_groups) for d in g.members}
    sections: list[dict[str, Any]] = []
    placed: set[str] = set()
    for detail_id in rt.details:
        if detail_id in placed:
            continue
        if detail_id not in groups:
            placed.add(detail_id)
            sections.append({"kind": "field", "field": DETAIL_FIELDS[detail_id]})
            continue
        index = groups[detail_id]
        options = []
        for option in rt.detail_groups[index].options:
            fresh = [DETAIL_FIELDS[d] for d in option if d not in placed]
            placed.update(option)
            if fresh:
                options.append(fresh)
        sections.append(
            {
                "kind": "group",
                "key": f"group-{index}",
                "legend": group_text(rt, index),
                "options": options,
            }
        )
    return sections


async def details(request: Request) -> Response:
    checked_guard = await guard(request, "details")
    if isinstance(checked_guard, Response):
        return checked_guard
    policy, draft = checked_guard
    rt = policy.request_types[draft.request_type]
    errors: dict[str, str] = {}
    form = details_form(draft)
    form["priority"] = draft.priority or ordinary_priority(policy, rt.id)
    count_name = f"detail_{SERVER_COUNT}"
    if request.method == "GET" and is_htmx(request) and count_name in request.query_params:
        # the price, live, while the number of servers is typed (nothing is stored)
        typed = request.query_params[count_name][:20]
        return render(
            request,
            "wizard/_plan_price.html",
            {"plan_prices": plan_prices(policy, rt.id, typed)},
            no_store=True,
        )
    if request.method == "POST":
        submitted = await _form(request, "details", files=True)
        form = plain(submitted)
        upload_errors: dict[str, str] = {}
        try:
            await _store_uploads(request, policy, draft, submitted, upload_errors)
        finally:
            await submitted.close()
        checked = check_details(policy, draft, form, now=http.now())
        errors = {**checked.errors, **upload_errors}
        # keep what was typed and what was attached, even when something must be fixed
        draft = checked.draft
        if not errors:
            draft.finish("details")
            await _save(request, draft)
            await _event(request, "step", "review")
            return redirect_to_step(request, "review")
        draft.reopen("details")
        await _save(request, draft)
    context = _context(
        request,
        policy,
        "details",
        draft,
        errors=errors,
        form=form,
        request_type=rt,
        sections=_detail_sections(rt),
        required=frozenset(required_details(rt)),
        plan_prices=plan_prices(policy, rt.id, form.get(count_name, "")),
        # the emergency priority is not offered: it comes only with an accepted claim
        priorities=[
            policy.priorities[p] for p in ordinary_priorities(policy, rt.id) or rt.priorities
        ],
        max_upload_mb=http.settings(request).max_upload_bytes // (1024 * 1024),
        # signed in: the account's servers as a picker for the "server" detail
        server_choices=_server_choices(getattr(request.state, "known", None)),
    )
    return render(
        request, "wizard/details.html", context, status_code=422 if errors else 200, no_store=True
    )


def _server_choices(known: Known | None) -> list[str]:
    """The account's servers as the details step offers them (their labels, which
    ``portal.directory.servers.resolve_server`` finds exactly), when signed in."""
    if known is None:
        return []
    return [server.label for server in directory_servers(known.servers)]


# --- step 5: review ------------------------------------------------------------------------


def expected_response(
    policy: Policy,
    draft: Draft,
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
        draft_facts(draft).plan,
        priority or decision.priority,
        now,
        emergency=decision.accepted if emergency is None else emergency,
    )
    if due.at is None:
        return due, None
    zone = ticket_zone({"tz": draft.tz}, policy.provider.timezone)
    return due, human_time(due.at, zone, now=now)


def _opens_local(policy: Policy, draft: Draft, due: Due, now: dt.datetime) -> str | None:
    """When support next opens, in the customer's time zone, for a first response with
    no due time (None when the hours are not published)."""
    if due.at is not None or due.opens_at is None:
        return None
    zone = ticket_zone({"tz": draft.tz}, policy.provider.timezone)
    return human_time(due.opens_at, zone, now=now)


def review_context(
    policy: Policy,
    draft: Draft,
    now: dt.datetime,
    *,
    rejected_claims: Sequence[dt.datetime] | None = None,
) -> dict[str, Any]:
    """What filing will do, as far as the policy alone decides. The anonymous wizard does
    not know the account (and must not reveal whether the sender is listed), so an
    accepted emergency is shown as provisional, with what happens otherwise; the emailed
    filing link shows the decision filing will make. Signed in, the draft holds the
    directory's facts and ``rejected_claims`` the account's claims found false: the
    decision is the one filing makes (``gate_emergency``), not a projection."""
    rt = policy.request_types[draft.request_type]
    cov = current_coverage(policy, draft)
    if rejected_claims is not None:
        decision = gate_emergency(
            policy,
            rt.id,
            draft_facts(draft).plan,
            draft.priority,
            claimed=draft.emergency_claimed,
            rejected_claims=rejected_claims,
            now=now,
        )
    else:
        decision = expected_emergency(
            policy,
            rt.id,
            draft_facts(draft).plan,
            draft.priority,
            claimed=draft.emergency_claimed,
            now=now,
        )
    due, due_local = expected_response(policy, draft, decision, now)
    otherwise: tuple[Due, str | None] | None = None
    if decision.provisional and decision.fallback_priority:
        otherwise = expected_response(
            policy, draft, decision, now, priority=decision.fallback_priority, emergency=False
        )
    return {
        "request_type": rt,
        "plan": policy.plans.get(draft.plan),  # None: the account has no plan
        "coverage": cov,
        "decision": decision,
        "due": due,
        "due_local": due_local,
        "opens_local": _opens_local(policy, draft, due, now),
        "due_otherwise": otherwise[0] if otherwise else None,
        "due_otherwise_local": otherwise[1] if otherwise else None,
        "version": check_version(policy, draft.version),
        "fields": [DETAIL_FIELDS[d] for d in rt.details],
        "plan_prices": plan_price_for(policy, draft),  # the price for the servers given
    }


async def review(request: Request) -> Response:
    """The review page (GET). Sending it (POST) is filing's job: portal.tickets.views."""
    checked_guard = await guard(request, "review")
    if isinstance(checked_guard, Response):
        return checked_guard
    policy, draft = checked_guard
    known = await facts.known(request, policy)
    claims = None
    if known is not None:  # signed in: exact, with the account's claims found false
        claims = await run_in_threadpool(
            facts.rejected_claims, http.database(request), known.account
        )
    context = _context(
        request,
        policy,
        "review",
        draft,
        **review_context(policy, draft, http.now(), rejected_claims=claims),
    )
    return render(request, "wizard/review.html", context, no_store=True)
