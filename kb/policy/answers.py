"""The triage answer as the JSON contract gives it (``portal triage --json``,
``POST /api/triage``), assembled from ranked request types: a pure function, so the
portal only adds the matching articles (a search, which is I/O).

- ``request_types[]``: ``id``, ``title``, ``score`` and ``coverage``
  (:meth:`kb.policy.engine.Coverage.as_json`: ``status``, ``rate`` or null,
  ``quote_required``, ``estimate`` or null, ``note``, ``waivers``, …);
- ``first_response_due``: ISO time, or null when the plan promises no time (or the top
  request cannot go ahead);
- ``first_response_text``: the target, or the policy's own words;
- ``support_opens_at``: ISO time of the next opening, null when unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kb.policy.engine import Coverage, Facts, coverage, triage_due
from kb.policy.model import Policy


def triage_answer(
    policy: Policy,
    ranked: Sequence[tuple[str, float]],
    facts: Facts,
    filed_at: dt.datetime,
) -> dict[str, Any]:
    """``ranked``: (request type id, score), best first. The first response is given
    for the best one, at its default priority, when it can go ahead (``included`` or
    ``paid``); an emergency type is timed as an accepted emergency where the plan has
    emergency handling (its emergency calendar, e.g. 24x7)."""
    types: list[dict[str, Any]] = []
    covers: list[Coverage] = []
    for request_type, score in ranked:
        rt = policy.request_types[request_type]
        c = coverage(policy, rt.id, facts)
        covers.append(c)
        types.append(
            {"id": rt.id, "title": rt.title, "score": round(score, 3), "coverage": c.as_json()}
        )
    answer: dict[str, Any] = {
        "request_types": types,
        "first_response_due": None,
        "first_response_text": None,
        "support_opens_at": None,
    }
    if ranked and covers[0].can_continue:
        answer.update(triage_due(policy, facts.plan, ranked[0][0], filed_at).as_json())
    return answer
