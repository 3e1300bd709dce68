"""Pages and API generated from the policy: /plans, /coverage, POST /api/triage."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kb.policy import pages
from kb.policy.emergencies import explain_emergencies
from kb.policy.engine import describe_rate, money
from portal import api, http, inputs, offload
from portal.policy.triage import TriageRequest, triage
from portal.templating import render

MAX_BODY = 16 * 1024


async def plans_page(request: Request) -> Response:
    policy = http.policy(request)
    today = http.now().astimezone(ZoneInfo(policy.provider.timezone)).date()
    context = {
        "policy": policy,
        "plans": pages.plan_views(policy, today),
        "rate_texts": {r.id: describe_rate(policy, r) for r in policy.rates.values()},
        "fee_texts": {f.id: money(policy, f.amount, f.currency) for f in policy.fees.values()},
        "emergencies": explain_emergencies(policy),
    }
    return render(request, "plans.html", context)


async def coverage_page(request: Request) -> Response:
    policy = http.policy(request)
    groups = policy.request_type_groups()
    kb = http.knowledge(request)
    cells = {
        (rt.id, plan_id): pages.coverage_cell(policy, rt.id, plan_id)
        for rt in policy.request_types.values()
        for plan_id in policy.plans
    }
    return render(
        request,
        "coverage.html",
        {"policy": policy, "groups": groups, "cells": cells, "kb": kb},
    )


RATE: api.Schema = {
    "type": ["object", "null"],
    "required": ["amount", "currency", "unit_minutes", "minimum_minutes"],
    "properties": {
        "amount": {"type": "string", "description": "per hour, a decimal number"},
        "currency": {"type": "string"},
        "unit_minutes": {
            "type": ["integer", "null"],
            "description": "the billing unit; null when the provider states none",
        },
        "minimum_minutes": {"type": "integer", "description": "0 when none is stated"},
    },
}
FEE: api.Schema = {
    "type": ["object", "null"],
    "required": ["amount", "currency"],
    "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
}
ESTIMATE: api.Schema = {
    "type": ["object", "null"],
    "required": ["currency", "low", "high", "text", "waivers"],
    "properties": {
        "currency": {"type": "string"},
        "low": {"type": "string"},
        "high": {"type": "string"},
        "text": {"type": "string"},
        "waivers": {"type": "array", "items": {"type": "string"}},
    },
}
COVERAGE: api.Schema = {
    "type": "object",
    "required": [
        "status",
        "reason",
        "rate",
        "fee",
        "quote_required",
        "estimate",
        "note",
        "waivers",
        "acceptance_text",
    ],
    "properties": {
        "status": {
            "type": "string",
            "enum": [
                "included",
                "paid",
                "unsupported",
                "not_in_plan",
                "role_not_allowed",
                "version_unsupported",
            ],
        },
        "reason": {"type": "string"},
        "rule": {"type": "string"},
        "rate": RATE,
        "fee": FEE,
        "quote_required": {
            "type": "boolean",
            "description": "paid work with no published price: a quote comes first",
        },
        "estimate": ESTIMATE,
        "note": {"type": ["string", "null"], "description": "the request type's note"},
        "waivers": {
            "type": "array",
            "description": "what the customer may claim to have the charge waived",
            "items": {
                "type": "object",
                "required": ["id", "text"],
                "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
            },
        },
        "acceptance_text": {
            "type": ["string", "null"],
            "description": "the checkbox the customer ticks to go on with paid work",
        },
        "plans_covering": {"type": "array", "items": {"type": "string"}},
        "articles": {"type": "array", "items": {"type": "string"}},
    },
}
TRIAGE_RESULT: api.Schema = {
    "type": "object",
    "required": [
        "request_types",
        "articles",
        "first_response_due",
        "first_response_text",
        "support_opens_at",
    ],
    "properties": {
        "request_types": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "score", "coverage"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "score": {"type": "number"},
                    "coverage": COVERAGE,
                },
            },
        },
        "articles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["slug", "title", "url"],
                "properties": {
                    "slug": {"type": "string"},
                    "title": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
        },
        "first_response_due": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "null when the plan promises no response time",
        },
        "first_response_text": {
            "type": ["string", "null"],
            "description": "the target, or the policy's own words; null when none applies",
        },
        "support_opens_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "when support is next open; null when the hours are not published",
        },
    },
}
_UNKNOWN = "leave it out when unknown"
TRIAGE_API = api.Operation(
    "POST",
    body=api.Body(
        {
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": "the customer's words (only the first 2,000 characters count)",
                },
                "plan": {"type": "string", "description": f"a plan id; {_UNKNOWN}"},
                "version": {"type": "string", "description": _UNKNOWN},
                "role": {"type": "string", "description": f"a contact role id; {_UNKNOWN}"},
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "when it is filed, with a time zone (default: now)",
                },
            },
        },
        max_bytes=MAX_BODY,
        media_type=None,  # any: triage changes nothing, so a cross-site form gains nothing
        invalid_status=422,
    ),
    responses={
        200: api.Reply("Request types, best first, with coverage", TRIAGE_RESULT),
        503: api.Reply("No support policy is configured"),
    },
)
AT_FORMAT = "must be an ISO 8601 date-time with a time zone, e.g. 2026-11-20T17:30:00+01:00"


async def triage_api(request: Request) -> Response:
    """Rank request types for a description, with coverage.

    Any media type is read as JSON."""
    policy = http.policy(request)
    data = await api.json_body(request, TRIAGE_API)
    refused = inputs.check_json(data, multiline=lambda path: path == "text")
    if refused:
        return JSONResponse(
            {"error": "some fields contain characters that we cannot accept", "fields": refused},
            status_code=422,
        )
    api.check_body(TRIAGE_API, data)
    try:
        at = dt.datetime.fromisoformat(data["at"]) if "at" in data else None
    except ValueError:
        at = None
    if "at" in data and (at is None or at.tzinfo is None):
        raise api.Invalid(422, f"at {AT_FORMAT}", {"at": AT_FORMAT})
    searcher = http.knowledge(request).searcher
    asked = TriageRequest(
        text=data.get("text", "")[:2000],
        plan=data.get("plan") or None,  # empty is unknown
        version=data.get("version") or None,
        role=data.get("role") or None,
        at=at,
    )
    try:
        # in a worker thread: suggestions and the article search are CPU work
        result = await offload.run(
            lambda: triage(policy, searcher, asked, synonyms=searcher.synonym_groups())
        )
    except ValueError as exc:  # TriageError among them: an unknown plan or role
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(result)
