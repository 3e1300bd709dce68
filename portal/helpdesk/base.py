"""The one interface every helpdesk connector has.

A connector is told, inside the transaction of the change, that a ticket was filed or
that the customer added something (``queue_filed``, ``queue_comment``): it writes the
outbox rows that will carry the news, so nothing acknowledged is lost. The outbox
worker later hands each row of the connector's ``kind`` to ``send`` and retries with
backoff until it returns. An external helpdesk (``ExternalHelpdesk``) also keeps the
ticket's id there (``tickets.helpdesk_id``), finds a ticket it already created before
creating another (a retry after a timeout), and reports what changed there since a
cursor (``changes_since``) for ``portal.helpdesk.sync``.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.db.engine import Database
from portal.db.models import HelpdeskCursor, Outbox, Ticket
from portal.notify import Message

# outbox rows an external helpdesk delivers itself: body {"event": "filed"|"comment", …}
KIND = "helpdesk"


@dataclass(frozen=True)
class ChangeFile:
    """A file attached to a reply in the helpdesk, as it named and typed it there.
    ``data`` is None when it was not fetched because it is larger than the connector's
    ``max_bytes`` (``size`` says by how much); the portal checks the rest like uploads."""

    filename: str
    content_type: str
    size: int
    data: bytes | None


@dataclass(frozen=True)
class Change:
    """One thing that happened to a delivered ticket in the helpdesk."""

    cursor: str  # the helpdesk's position once this change is read (e.g. RT's txn id)
    external_id: str  # the helpdesk's id of the ticket
    kind: str  # "status" (the helpdesk's own status name) or "reply" (public correspondence)
    status: str = ""
    text: str = ""
    at: dt.datetime | None = None
    files: tuple[ChangeFile, ...] = ()  # a reply's attachments


class NotDeliveredYet(RuntimeError):
    """An addition to a ticket whose filing is still on its way: retried later."""


class Connector:
    """A helpdesk that receives the portal's tickets."""

    name: str = ""
    kind: str | None = None  # the outbox kind ``send`` delivers (None: nothing to send)

    def queue_filed(
        self, session: Session, ticket: Ticket, *, summary: str, payload: dict[str, Any]
    ) -> None:
        """A ticket was filed (in its transaction): ``summary`` is the ticket in a few
        lines (``notify.ticket_summary``), ``payload`` its JSON (``portal tickets show
        --json``)."""

    def queue_comment(
        self, session: Session, ticket: Ticket, text: str, *, files: Sequence[str] = ()
    ) -> None:
        """The customer added information to a filed ticket (in its transaction);
        ``files``: the ids of the uploads attached to it (``uploads`` rows of the
        ticket, already added to ``session``)."""

    def send(self, row: Outbox) -> None:
        """Deliver one outbox row of ``kind``; raise to have it retried."""
        raise ValueError(f"{self.name} delivers no outbox rows ({row.kind})")


def queue_event(
    session: Session, connector: Connector, ticket: Ticket, event: str, **fields: Any
) -> None:
    """An outbox row of ``KIND`` for ``connector``: ``event`` and its fields as JSON."""
    session.add(
        Outbox(
            kind=KIND,
            recipient=connector.name,
            body=json.dumps({"event": event, "number": ticket.number, **fields}, sort_keys=True),
            purpose="helpdesk" if event == "filed" else event,
            ticket_number=ticket.number,
        )
    )


def queue_mail(session: Session, message: Message) -> None:
    """An e-mail row, as ``portal.tickets.outbox.enqueue`` writes it."""
    session.add(
        Outbox(
            kind="email",
            recipient=message.to,
            subject=message.subject,
            body=message.body,
            purpose=message.purpose,
            ticket_number=message.ticket,
        )
    )


class ExternalHelpdesk(Connector, abc.ABC):
    """A helpdesk with its own ticket store: the portal creates the ticket there once,
    adds the customer's additions as correspondence and reads back what changed."""

    kind = KIND

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- what each helpdesk implements --------------------------------------------------

    @abc.abstractmethod
    def find_existing(self, ticket: Ticket) -> str | None:
        """The helpdesk's id of a ticket created earlier for this portal ticket (a retry
        after a timeout that did create it), else None."""

    @abc.abstractmethod
    def deliver(self, ticket: Ticket) -> str:
        """Create the ticket in the helpdesk; returns its id there."""

    @abc.abstractmethod
    def add_correspondence(
        self, external_id: str, text: str, *, retry: bool, files: Sequence[str] = ()
    ) -> None:
        """Add the customer's text as correspondence, with the uploads ``files`` (their
        ids) attached (``retry``: an earlier attempt may have added it already)."""

    @abc.abstractmethod
    def changes_since(
        self, cursor: str | None, wanted: Callable[[str], bool] | None = None
    ) -> tuple[list[Change], str]:
        """What changed on tickets in the helpdesk after ``cursor`` (None: nothing read
        yet — start from now), oldest first, and the cursor to read from next; only for
        the helpdesk ids ``wanted`` accepts (None: every ticket)."""

    @property
    @abc.abstractmethod
    def cursor_name(self) -> str:
        """Key of this helpdesk's cursor (``helpdesk_cursors.name``)."""

    # --- shared --------------------------------------------------------------------------

    def queue_filed(
        self, session: Session, ticket: Ticket, *, summary: str, payload: dict[str, Any]
    ) -> None:
        queue_event(session, self, ticket, "filed")

    def queue_comment(
        self, session: Session, ticket: Ticket, text: str, *, files: Sequence[str] = ()
    ) -> None:
        if files:
            queue_event(session, self, ticket, "comment", text=text, files=list(files))
        else:
            queue_event(session, self, ticket, "comment", text=text)

    def send(self, row: Outbox) -> None:
        payload = json.loads(row.body)
        number = str(payload["number"])
        ticket = self._ticket(number)
        if not ticket.helpdesk_id:
            self._wait_for_earlier(row)
        if payload["event"] == "filed":
            self.ensure_delivered(ticket)
        elif payload["event"] == "comment":
            external = self.ensure_delivered(ticket)  # in order: the ticket first
            self.add_correspondence(
                external,
                str(payload["text"]),
                retry=row.attempts > 0,
                files=[str(f) for f in payload.get("files", ())],
            )
        else:
            raise ValueError(f"unknown helpdesk event {payload['event']!r}")

    def ensure_delivered(self, ticket: Ticket) -> str:
        """The helpdesk's id of the ticket: stored, found there, or created now —
        exactly once."""
        if ticket.helpdesk_id:
            return ticket.helpdesk_id
        self.start_cursor()  # read changes from before the first ticket it creates
        external = self.find_existing(ticket) or self.deliver(ticket)
        with self.db.session() as session:
            fresh = session.get(Ticket, ticket.id)
            if fresh is not None:
                fresh.helpdesk_id = external
        return external

    def _wait_for_earlier(self, row: Outbox) -> None:
        """Only the ticket's earliest undelivered row may create it in the helpdesk: the
        outbox claims rows one by one, so two workers could otherwise each hold a row of
        the same ticket (its filing and an addition), both find nothing there and both
        create it. A later row raises (and is retried) until the ticket's id is stored."""
        with self.db.session() as session:
            earlier = session.scalars(
                select(Outbox.id)
                .where(
                    Outbox.kind == KIND,
                    Outbox.recipient == self.name,
                    Outbox.ticket_number == row.ticket_number,
                    Outbox.delivered_at.is_(None),
                    Outbox.id < row.id,
                )
                .limit(1)
            ).first()
        if earlier is not None:
            raise NotDeliveredYet(
                f"ticket {row.ticket_number} is not in the helpdesk yet (outbox {earlier} first)"
            )

    def _ticket(self, number: str) -> Ticket:
        with self.db.session() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
            if ticket is None:
                raise LookupError(f"no ticket {number}")
            session.expunge(ticket)
            return ticket

    # --- the cursor: how far the helpdesk's changes were read -----------------------------

    def read_cursor(self) -> str | None:
        with self.db.session() as session:
            row = session.get(HelpdeskCursor, self.cursor_name)
            return row.value if row is not None else None

    def start_cursor(self) -> str:
        """The cursor, starting it at the helpdesk's newest change when there is none."""
        cursor = self.read_cursor()
        if cursor is not None:
            return cursor
        _, start = self.changes_since(None)
        try:
            with self.db.session() as session:
                session.add(HelpdeskCursor(name=self.cursor_name, value=start))
        except IntegrityError:  # another worker started it first
            return self.read_cursor() or start
        return start


def advance_cursor(session: Session, name: str, old: str, new: str) -> bool:
    """Move the cursor from ``old`` to ``new`` in ``session``'s transaction; False when
    another worker moved it first (its changes are then applied by that worker)."""
    if old == new:
        return True
    result = session.execute(
        update(HelpdeskCursor)
        .where(HelpdeskCursor.name == name, HelpdeskCursor.value == old)
        .values(value=new, updated_at=dt.datetime.now(dt.UTC))
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
