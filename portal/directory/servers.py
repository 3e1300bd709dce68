"""Which of an account's servers a request is about: pure functions, no I/O.

A customer names a server in their own words ("web-12 (id 4711)", "4711", "WEB-12").
:func:`resolve_server` finds the exact server of the account directory: a picked id
first, then ids in the text ("id 4711", then a bare "4711"), then exact names — always
whole tokens, case-insensitive, so "web-12" never matches "web-1" and an id inside a
name ("web-4711") is not that id. Text that names two servers, or an id and the name
of another server, is ambiguous: the customer is asked to pick (the picker's values
are made and read here too, :func:`pick_value` and :func:`read_pick`).

Filing routes a request by the owner of the server found (``own`` or ``upstream``)
and records it in the ticket's details under :data:`SERVER_NAME_LABEL` and
:data:`SERVER_ID_LABEL` (:func:`server_details`, :func:`ticket_server`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# the ticket's details (label -> value) that hold the server found in the directory
SERVER_NAME_LABEL = "Server name"
SERVER_ID_LABEL = "Server id"

# the picker's value for "none of these" (a server's value is "id:" + its id, so no
# server id can be mistaken for it)
NONE_OF_THESE = "none"
_PICK_PREFIX = "id:"

Status = Literal["found", "ambiguous", "unknown"]
_TOKEN = re.compile(r"[\w.\-]+")
_EDGES = ".-_"  # punctuation that ends a sentence or a list, not a name


@dataclass(frozen=True)
class DirectoryServer:
    """One server of an account as the directory lists it."""

    name: str
    server_id: str
    owner: str = "own"  # own | upstream

    @property
    def label(self) -> str:
        return f"{self.name} (id {self.server_id})"

    @property
    def upstream(self) -> bool:
        return self.owner == "upstream"

    @property
    def pick_value(self) -> str:
        """This server's value in the picker (see :func:`read_pick`)."""
        return pick_value(self)


@dataclass(frozen=True)
class Resolution:
    """The server a request is about: ``found`` (``server``), ``ambiguous`` (the
    ``candidates`` the text matches) or ``unknown`` (nothing matches)."""

    status: Status
    server: DirectoryServer | None = None
    candidates: tuple[DirectoryServer, ...] = ()

    @property
    def found(self) -> bool:
        return self.status == "found"


def directory_servers(
    servers: Iterable[DirectoryServer | tuple[str, str, str]],
) -> tuple[DirectoryServer, ...]:
    """The servers as :class:`DirectoryServer`, from the directory's ``(name, id,
    owner)`` tuples (``Sender.servers``) or as they are; sorted by name (ignoring
    case), then id."""
    listed = (s if isinstance(s, DirectoryServer) else DirectoryServer(*s) for s in servers)
    return tuple(sorted(listed, key=_order))


def _order(server: DirectoryServer) -> tuple[str, str, str]:
    return server.name.casefold(), server.server_id, server.owner


def tokens(text: str) -> list[str]:
    """Whole tokens, case-folded: runs of letters, digits, ``.``, ``-`` and ``_``, with
    a ``.``, ``-`` or ``_`` at either end dropped ("web-1." is "web-1")."""
    found = (t.strip(_EDGES).casefold() for t in _TOKEN.findall(text))
    return [t for t in found if t]


def _spans(haystack: list[str], needle: list[str]) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``haystack`` as whole tokens: (start, end) pairs."""
    n = len(needle)
    if not n:
        return []
    return [(i, i + n) for i in range(len(haystack) - n + 1) if haystack[i : i + n] == needle]


def _inside(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    """``span`` lies within another span (and is not that span)."""
    return any(s <= span[0] and span[1] <= e and (s, e) != span for s, e in spans)


def resolve_server(
    servers: Iterable[DirectoryServer | tuple[str, str, str]],
    text: str = "",
    picked: str | None = None,
) -> Resolution:
    """The exact server of ``servers`` that ``picked`` (a server id from the picker)
    or ``text`` (the customer's words) names.

    - A picked id that is one of the servers' ids is that server; any other is unknown.
    - In the text, ids count first: "id 4711" (also "ID: 4711"), else a bare "4711"
      that is not part of a server's name ("node 1" is the name, not id 1). Names count
      as whole tokens, case-insensitive; of overlapping names the longest wins.
    - Found when everything named is one server (its name and its id agree);
      ambiguous when the text names several (or an id and another server's name);
      unknown when it names none, or is empty.
    """
    listed = directory_servers(servers)
    if picked is not None:
        match = [s for s in listed if s.server_id == picked.strip()]
        return Resolution("found", match[0]) if len(match) == 1 else Resolution("unknown")
    words = tokens(text)
    if not words:
        return Resolution("unknown")
    # names: whole-token matches, dropping one inside a longer name's match
    name_spans = {s: _spans(words, tokens(s.name)) for s in listed}
    every_name_span = [span for spans in name_spans.values() for span in spans]
    named = {
        s for s, spans in name_spans.items() if any(not _inside(x, every_name_span) for x in spans)
    }
    explicit = {s for s in listed if _spans(words, ["id", *tokens(s.server_id)])}
    bare = {
        s
        for s in listed
        if any(not _inside(x, every_name_span) for x in _spans(words, tokens(s.server_id)))
    }
    by_id = explicit or bare
    # a name agrees with an id when the server found by that id has that name
    id_names = {tuple(tokens(s.name)) for s in by_id}
    conflicting = {s for s in named - by_id if tuple(tokens(s.name)) not in id_names}
    candidates = tuple(sorted(by_id | conflicting if by_id else named, key=_order))
    if len(candidates) == 1:
        return Resolution("found", candidates[0])
    if candidates:
        return Resolution("ambiguous", candidates=candidates)
    return Resolution("unknown")


def pick_value(server: DirectoryServer) -> str:
    """The picker's value for ``server``."""
    return _PICK_PREFIX + server.server_id


def read_pick(value: str | None) -> tuple[bool, str | None]:
    """A picker's submitted value: (``none of these`` chosen, the picked server id).
    Nothing submitted, or a value the picker never offers, is (False, None)."""
    if value is None:
        return False, None
    value = value.strip()
    if value == NONE_OF_THESE:
        return True, None
    if value.startswith(_PICK_PREFIX) and len(value) > len(_PICK_PREFIX):
        return False, value[len(_PICK_PREFIX) :]
    return False, None


def server_details(server: DirectoryServer) -> dict[str, str]:
    """What a ticket's details record of the server found: its name and id."""
    return {SERVER_NAME_LABEL: server.name, SERVER_ID_LABEL: server.server_id}


def ticket_server(details: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (name, id) of the server a ticket's details record, if any."""
    name, server_id = details.get(SERVER_NAME_LABEL), details.get(SERVER_ID_LABEL)
    if isinstance(name, str) and isinstance(server_id, str) and name and server_id:
        return name, server_id
    return None


@dataclass(frozen=True)
class Picker:
    """What ``templates/tickets/_server_picker.html`` shows: the account's servers as
    radio buttons (name and id) and "none of these", the one checked, why it is asked
    and, after a submission without a usable pick, what to fix. Show it only to
    someone who has proved they are a contact of the account (the filing link's page,
    a signed-in contact): it lists the account's servers."""

    servers: tuple[DirectoryServer, ...]
    name: str = "server_pick"  # the form field
    value: str = ""  # the checked value (pick_value or NONE_OF_THESE)
    intro: str = ""
    error: str = ""
    none_value: str = NONE_OF_THESE


def picker(
    servers: Iterable[DirectoryServer | tuple[str, str, str]],
    resolution: Resolution | None,
    *,
    typed: str = "",
    value: str | None = None,
    submitted: bool = False,
    name: str = "server_pick",
) -> Picker:
    """The picker for a request whose server ``resolution`` did not find (``typed`` is
    what the customer wrote); ``value`` is the value chosen (None: none), ``submitted``
    whether the form was sent (then a missing or stale choice is an error)."""
    listed = directory_servers(servers)
    shown = typed.strip()
    if resolution is not None and resolution.status == "ambiguous":
        names = ", ".join(s.label for s in resolution.candidates)
        intro = (
            f"“{shown}” could mean more than one of your account's servers ({names}). "
            "Choose the one this request is about."
        )
    elif shown:
        intro = (
            f"“{shown}” is not one of your account's servers as we list them. Choose the "
            "server this request is about, or “None of these”."
        )
    else:
        intro = "Choose the server this request is about, or “None of these”."
    none_of_these, picked = read_pick(value)
    error = ""
    if submitted and not none_of_these:
        if picked is None:
            error = "Choose one of the servers below, or “None of these”, then file the request."
        elif not any(s.server_id == picked for s in listed):
            error = (
                "The server you chose is no longer listed on your account. Choose one of "
                "the servers below, or “None of these”."
            )
    checked = (value or "").strip()
    return Picker(listed, name=name, value=checked, intro=intro, error=error)
