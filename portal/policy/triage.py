"""Triage: from a customer's words to ranked request types with coverage, matching
articles and the expected first response. Used by ``portal triage``, ``POST
/api/triage`` and the request wizard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kb.policy import Policy
from kb.policy.engine import Coverage, Facts, coverage, first_response_due
from kb.policy.suggest import suggest
from kb.search import Searcher


@dataclass(frozen=True)
class TriageRequest:
    text: str
    plan: str | None = None
    version: str | None = None
    role: str | None = None
    at: dt.datetime | None = None


class TriageError(ValueError):
    pass


def validate(policy: Policy, request: TriageRequest) -> None:
    if request.plan is not None and request.plan not in policy.plans:
        raise TriageError(f"unknown plan '{request.plan}' (one of {', '.join(policy.plans)})")
    if request.role is not None and policy.contacts.role(request.role) is None:
        roles = ", ".join(r.id for r in policy.contacts.roles)
        raise TriageError(f"unknown role '{request.role}' (one of {roles})")
    if request.at is not None and request.at.tzinfo is None:
        raise TriageError("--at needs a time zone, e.g. 2026-11-24T09:00:00+01:00")


def triage(
    policy: Policy,
    searcher: Searcher | None,
    request: TriageRequest,
    *,
    synonyms: tuple[tuple[str, ...], ...] = (),
    limit: int = 5,
) -> dict[str, Any]:
    validate(policy, request)
    plan = request.plan or next(iter(policy.plans))
    facts = Facts(plan=plan, version=request.version, role=request.role)
    suggestions = suggest(policy, request.text, synonyms=synonyms, limit=limit)
    types: list[dict[str, Any]] = []
    covers: list[Coverage] = []
    for s in suggestions:
        c = coverage(policy, s.request_type.id, facts)
        covers.append(c)
        types.append(
            {
                "id": s.request_type.id,
                "title": s.request_type.title,
                "score": round(s.score, 3),
                "coverage": c.as_json(),
            }
        )
    articles: list[dict[str, str]] = []
    if searcher is not None and request.text.strip():
        result = searcher.search(request.text, limit=3, snippets=False, facets=False)
        articles = [{"slug": h.slug, "title": h.title, "url": "/" + h.url} for h in result.hits]
    due = None
    if suggestions and covers[0].can_continue:
        top = suggestions[0].request_type
        priority = top.default_priority or next(iter(policy.priorities))
        filed_at = request.at or dt.datetime.now(dt.UTC)
        d = first_response_due(policy, plan, priority, filed_at)
        due = d.at.isoformat() if d.at else None
    return {"request_types": types, "articles": articles, "first_response_due": due}
