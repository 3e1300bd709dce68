"""Pages and API generated from the policy: /plans, /coverage, POST /api/triage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kb.policy.calendar import describe_holidays
from kb.policy.directives import STATUS_LABELS
from kb.policy.engine import describe_rate, money
from portal import http, inputs, offload
from portal.http import BodyError, read_json
from portal.policy.triage import TriageError, TriageRequest, triage
from portal.templating import render

MAX_BODY = 16 * 1024


async def plans_page(request: Request) -> Response:
    policy = http.policy(request)
    calendars = {
        plan.id: (
            policy.calendars[plan.calendar],
            describe_holidays(policy.calendars[plan.calendar]),
            policy.calendars[plan.emergency_calendar] if plan.emergency_calendar else None,
        )
        for plan in policy.plans.values()
    }
    context = {
        "policy": policy,
        "calendars": calendars,
        "rate_texts": {r.id: describe_rate(policy, r) for r in policy.rates.values()},
        "fee_texts": {f.id: money(policy, f.amount, f.currency) for f in policy.fees.values()},
    }
    return render(request, "plans.html", context)


async def coverage_page(request: Request) -> Response:
    policy = http.policy(request)
    groups = policy.request_type_groups()
    kb = http.knowledge(request)
    return render(
        request,
        "coverage.html",
        {"policy": policy, "groups": groups, "labels": STATUS_LABELS, "kb": kb},
    )


def _field(data: dict[str, Any], key: str) -> str | None:
    """An optional string field: absent or empty is None; anything else is an error."""
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str):
        raise TriageError(f"'{key}' must be a string (leave it out when unknown)")
    return value or None


async def triage_api(request: Request) -> Response:
    policy = http.policy(request)
    try:
        # any media type: triage changes nothing, so a cross-site form gains nothing
        data = await read_json(request, max_bytes=MAX_BODY, media_type=None, invalid_status=422)
    except BodyError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    refused = inputs.check_json(data, multiline=lambda path: path == "text")
    if refused:
        return JSONResponse(
            {"error": "some fields contain characters that we cannot accept", "fields": refused},
            status_code=422,
        )
    try:
        if not isinstance(data, dict):
            raise TriageError('send a JSON object, e.g. {"text": "my site is down"}')
        text = _field(data, "text") or ""
        at_text = data.get("at")
        if "at" in data and not isinstance(at_text, str):
            raise TriageError("'at' must be an ISO 8601 date-time string")
        at = dt.datetime.fromisoformat(at_text) if at_text is not None else None
        searcher = http.knowledge(request).searcher
        asked = TriageRequest(
            text=text[:2000],
            plan=_field(data, "plan"),
            version=_field(data, "version"),
            role=_field(data, "role"),
            at=at,
        )
        # in a worker thread: suggestions and the article search are CPU work
        result = await offload.run(
            lambda: triage(policy, searcher, asked, synonyms=searcher.synonym_groups())
        )
    except (ValueError, TriageError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(result)
