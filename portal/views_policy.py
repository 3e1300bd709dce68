"""Pages and API generated from the policy: /plans, /coverage, POST /api/triage."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kb.policy.calendar import describe_holidays
from kb.policy.directives import STATUS_LABELS
from kb.policy.engine import describe_rate, money
from portal.templating import render
from portal.triage import TriageError, TriageRequest, triage
from portal.web import policy_or_none

MAX_BODY = 16 * 1024


current_policy = policy_or_none


def _no_policy(request: Request) -> Response:
    return render(
        request,
        "message.html",
        {"title": "No support policy", "message": "This portal has no support policy file."},
        status_code=503,
    )


async def plans_page(request: Request) -> Response:
    policy = current_policy(request)
    if policy is None:
        return _no_policy(request)
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
    policy = current_policy(request)
    if policy is None:
        return _no_policy(request)
    groups = policy.request_type_groups()
    kb = request.app.state.kb
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
    policy = current_policy(request)
    if policy is None:
        return JSONResponse({"error": "no support policy is configured"}, status_code=503)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "request body too large"}, status_code=413)
    try:
        if not body:
            raise TriageError('send a JSON object, e.g. {"text": "my site is down"}')
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TriageError("the body must be a JSON object")
        text = _field(data, "text") or ""
        at_text = data.get("at")
        if "at" in data and not isinstance(at_text, str):
            raise TriageError("'at' must be an ISO 8601 date-time string")
        at = dt.datetime.fromisoformat(at_text) if at_text is not None else None
        result = triage(
            policy,
            request.app.state.kb.searcher,
            TriageRequest(
                text=text[:2000],
                plan=_field(data, "plan"),
                version=_field(data, "version"),
                role=_field(data, "role"),
                at=at,
            ),
            synonyms=request.app.state.kb.searcher.synonym_groups(),
        )
    except (ValueError, TriageError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(result)
