"""A ticket's history as its customer reads it: only the public events
(states.PUBLIC_EVENTS), each with its words, and whether our staff has answered yet.

Pure functions over the events (anything with ``kind``, ``status``, ``author``,
``note`` and ``at``), tested with tables of cases (tests/test_ticket_history.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from portal.tickets.states import PUBLIC_EVENTS

# what add_feedback writes before the customer's words (portal/tickets/updates.py)
FEEDBACK_PREFIXES = {"complaint: ": "Your complaint", "feedback: ": "Your feedback"}

LABELS = {
    "filed": "Filed",
    "comment": "You added information",
    "feedback": "Your feedback",
    "reply": "Our answer",
    "priority": "Priority changed",
    "emergency_rejected": "Not an emergency",
    "waiver_claimed": "You asked for the fee to be waived",
    "waiver_confirmed": "Fee waived",
    "merged": "Merged with another request",
}


class Event(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str | None: ...
    @property
    def author(self) -> str: ...
    @property
    def note(self) -> str: ...
    @property
    def at(self) -> dt.datetime: ...


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str
    label: str
    note: str


def entry(event: Event, status_labels: Mapping[str, str]) -> Entry | None:
    """How the customer reads one event; None for an event customers never see."""
    if event.kind not in PUBLIC_EVENTS:
        return None
    note = event.note or ""
    if event.kind == "status":
        status = event.status or ""
        return Entry(event.at, event.kind, f"Status: {status_labels.get(status, status)}", note)
    label = LABELS.get(event.kind, event.kind)
    if event.kind == "feedback":
        for prefix, words in FEEDBACK_PREFIXES.items():
            if note.startswith(prefix):
                label, note = words, note[len(prefix) :]
                break
    return Entry(event.at, event.kind, label, note)


def customer_history(events: Iterable[Event], status_labels: Mapping[str, str]) -> list[Entry]:
    """The public events in order, in the customer's words."""
    return [e for e in (entry(event, status_labels) for event in events) if e is not None]


def has_reply(events: Iterable[Event]) -> bool:
    """Whether our staff has sent the customer an answer (a "reply" event)."""
    return any(e.kind == "reply" for e in events)


def first_answer(events: Iterable[Event]) -> dt.datetime | None:
    """When our staff first answered: a reply, or a status change made by staff
    (the first response the policy promises); None while no one has."""
    for e in events:
        if e.kind == "reply" or (e.kind == "status" and e.author == "staff"):
            return e.at
    return None


class File(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...


F = TypeVar("F", bound=File)
# the events whose files are stored with them, at the event's moment
WITH_FILES = ("comment", "reply")


def files_by_entry(entries: Sequence[Entry], files: Iterable[F]) -> list[list[F]]:
    """For each entry, the ticket's files that came with it: an addition's or a reply's,
    stored at the event's moment and named on its "Attached: …" line."""
    pool = list(files)
    found: list[list[F]] = []
    for e in entries:
        attached = next((line for line in e.note.splitlines() if line.startswith("Attached: ")), "")
        mine = [
            f
            for f in pool
            if e.kind in WITH_FILES and attached and f.created_at == e.at and f.filename in attached
        ]
        pool = [f for f in pool if f not in mine]
        found.append(mine)
    return found
