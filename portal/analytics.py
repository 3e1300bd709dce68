"""Anonymous analytics: what customers searched in vain, which articles solved
problems, where they gave up. No personal data: no session, account, email or IP is
stored, and search text is scrubbed of addresses and numbers."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from portal.db.engine import Database
from portal.db.models import Event

STEPS = ("describe", "choose", "coverage", "details", "review")
_EMAIL = re.compile(r"\S+@\S+")
_NUMBER = re.compile(r"\d{4,}")
_URL = re.compile(r"https?://\S+")


def scrub(text: str) -> str:
    """Search text without email addresses, URLs or long numbers; lower case, short."""
    text = _URL.sub("<url>", text)
    text = _EMAIL.sub("<email>", text)
    text = _NUMBER.sub("<number>", text)
    return " ".join(text.lower().split())[:100]


def record(db: Database, kind: str, key: str = "") -> None:
    with db.session() as session:
        session.add(Event(kind=kind, key=key[:200]))


def record_many(db: Database, kind: str, keys: list[str]) -> None:
    if keys:
        with db.session() as session:
            session.add_all(Event(kind=kind, key=k[:200]) for k in keys)


@dataclass
class Report:
    started: int
    deflected: int
    ready: int
    failed_searches: list[tuple[str, int]]
    unclicked_searches: list[tuple[str, int]]  # found something, but nobody opened a hit
    deflecting_articles: list[tuple[str, int]]
    shown_articles: list[tuple[str, int]]
    steps: list[tuple[str, int, int]]  # step, reached, abandoned there

    @property
    def deflection_rate(self) -> float:
        return self.deflected / self.started if self.started else 0.0

    def as_json(self) -> dict[str, Any]:
        """``portal report --json``."""
        return {
            "started": self.started,
            "deflected": self.deflected,
            "deflection_rate": round(self.deflection_rate, 4),
            "ready": self.ready,
            "failed_searches": self.failed_searches,
            "unclicked_searches": self.unclicked_searches,
            "deflecting_articles": self.deflecting_articles,
            "suggested_articles": self.shown_articles,
            "steps": [{"step": s, "reached": n, "abandoned": a} for s, n, a in self.steps],
        }


def report(db: Database, *, top: int = 10) -> Report:
    """Deflection rate, failed searches, deflecting articles and abandonment per step.

    ``step`` events count the customers who reached each step; ``deflected_at`` events
    say at which step an article solved the problem. The rest of those who reached a
    step and did not reach the next one gave up there.
    """
    with db.session() as session:

        def counts(kind: str) -> Counter[str]:
            rows = session.execute(
                select(Event.key, func.count()).where(Event.kind == kind).group_by(Event.key)
            ).all()
            return Counter({key: int(n) for key, n in rows})

        reached = counts("step")
        deflected = counts("deflected")
        deflected_at = counts("deflected_at")
        failed = counts("search_no_results")
        searched = counts("search")  # settled searches that found something
        clicked = counts("search_click")  # a hit opened from such a search
        shown = counts("suggested")
        ready = sum(counts("ready").values())
    steps = []
    for i, step in enumerate(STEPS):
        here = reached.get(step, 0)
        nxt = reached.get(STEPS[i + 1], 0) if i + 1 < len(STEPS) else ready
        steps.append((step, here, max(0, here - nxt - deflected_at.get(step, 0))))
    return Report(
        started=reached.get("describe", 0),
        deflected=sum(deflected.values()),
        ready=ready,
        failed_searches=failed.most_common(top),
        unclicked_searches=(searched - clicked).most_common(top),
        deflecting_articles=deflected.most_common(top),
        shown_articles=shown.most_common(top),
        steps=steps,
    )
