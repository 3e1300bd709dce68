"""Triage: from a customer's words to ranked request types with coverage, matching
articles and the expected first response. Used by ``portal triage``, ``POST
/api/triage`` and the request wizard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kb.policy import Policy
from kb.policy.answers import triage_answer
from kb.policy.engine import Facts
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
    filed_at = request.at or dt.datetime.now(dt.UTC)
    ranked = [(s.request_type.id, s.score) for s in suggestions]
    answer = triage_answer(policy, ranked, facts, filed_at)
    articles: list[dict[str, str]] = []
    if searcher is not None and request.text.strip():
        result = searcher.search(request.text, limit=3, snippets=False, facets=False)
        articles = [{"slug": h.slug, "title": h.title, "url": "/" + h.url} for h in result.hits]
    return {
        "request_types": answer["request_types"],
        "articles": articles,
        "first_response_due": answer["first_response_due"],
        "first_response_text": answer["first_response_text"],
        "support_opens_at": answer["support_opens_at"],
    }
