"""Which open incidents match what a customer describes: pure functions, no I/O.

An incident matches when it is open now (not resolved; a maintenance window only while
it runs) and either

- names the customer's server (its name or id, compared without case), or a server it
  names appears as a whole word in the customer's text (``web-12`` never matches
  ``web-1``), or
- one of its services appears as a whole word in the text (a plural ``s`` allowed), or
  is the request type's service: a word of its id, title, category or keywords.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STATUSES = ("investigating", "identified", "monitoring", "resolved")
OPEN_STATUSES = STATUSES[:-1]
STATUS_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
KINDS = ("incident", "maintenance")


@dataclass(frozen=True)
class IncidentFacts:
    """What matching needs to know of an incident."""

    id: int
    title: str
    status: str
    kind: str = "incident"
    services: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


@dataclass(frozen=True)
class RequestFacts:
    """What the customer told the wizard so far."""

    text: str = ""
    servers: tuple[str, ...] = ()  # the server(s) the request is about: names or ids
    request_type_words: tuple[str, ...] = ()  # id, title, category, keywords


@dataclass(frozen=True)
class Match:
    incident: IncidentFacts
    reason: str  # "server web-12", "service e-mail"


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _word(phrase: str, *, plural: bool = False) -> re.Pattern[str]:
    """``phrase`` as a whole word: not inside a longer name (letters, digits, ``-``,
    ``.`` and ``_`` continue a name, so ``web-1`` is not found in ``web-12``)."""
    body = r"\s+".join(re.escape(part) for part in _fold(phrase).split())
    tail = "s?" if plural else ""
    return re.compile(rf"(?<![\w.-]){body}{tail}(?![\w-]|\.\w)")


def is_open(incident: IncidentFacts, now: dt.datetime) -> bool:
    """Open now: not resolved, and for maintenance, its window has begun and not ended."""
    if incident.status not in OPEN_STATUSES:
        return False
    if incident.kind == "maintenance":
        started = incident.starts_at is None or incident.starts_at <= now
        ended = incident.ends_at is not None and incident.ends_at <= now
        return started and not ended
    return True


def is_planned(incident: IncidentFacts, now: dt.datetime) -> bool:
    """A maintenance window still ahead (shown in advance)."""
    return (
        incident.kind == "maintenance"
        and incident.status in OPEN_STATUSES
        and incident.starts_at is not None
        and incident.starts_at > now
    )


def request_type_words(
    type_id: str, title: str, category: str = "", keywords: Iterable[str] = ()
) -> tuple[str, ...]:
    """The words that tell a request type's service: its id split at ``-``, its title,
    category and keywords."""
    words = [*type_id.split("-"), title, category.replace("-", " "), *keywords]
    return tuple(w for w in words if w)


def match_reason(incident: IncidentFacts, request: RequestFacts) -> str:
    """Why ``incident`` matches ``request`` ("" when it does not); openness aside."""
    text = _fold(request.text)
    mine = {_fold(s) for s in request.servers if s.strip()}
    for server in incident.servers:
        name = _fold(server)
        if not name:
            continue
        if name in mine or (text and _word(name).search(text)):
            return f"server {server}"
    type_text = " | ".join(_fold(w) for w in request.request_type_words)
    for service in incident.services:
        if not _fold(service):
            continue
        pattern = _word(service, plural=True)
        if (text and pattern.search(text)) or (type_text and pattern.search(type_text)):
            return f"service {service}"
    return ""


def matching(
    incidents: Sequence[IncidentFacts], request: RequestFacts, now: dt.datetime
) -> list[Match]:
    """The open incidents that match, in the order given (newest first from the store)."""
    found = []
    for incident in incidents:
        if not is_open(incident, now):
            continue
        reason = match_reason(incident, request)
        if reason:
            found.append(Match(incident, reason))
    return found


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list from a form or the command line, trimmed, duplicates
    dropped (first spelling kept)."""
    seen: dict[str, str] = {}
    for part in text.split(","):
        value = " ".join(part.split())
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value[:100]
    return tuple(seen.values())
