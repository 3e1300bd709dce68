"""Filing a demo ticket in-process (through its pending request, as the filing link
does) and adding history to it."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette

from portal.config import Settings
from portal.db.models import PendingRequest, Ticket, TicketEvent
from portal.tickets.filing import file_pending
from tests.support.factories import DEMO_ACCOUNT, DEMO_EMAIL


@dataclass(frozen=True)
class Filed:
    number: str
    token: str  # the ticket's status token, as in the confirmation mail

    @property
    def path(self) -> str:
        return f"/tickets/{self.number}?token={self.token}"


def file_demo_ticket(
    app: Starlette,
    settings: Settings,
    *,
    tz: str = "Europe/Berlin",
    at: dt.datetime | None = None,
    details: dict[str, str] | None = None,
    **data: Any,
) -> Filed:
    """A mail problem from the demo's primary contact, filed at ``at`` (default now)."""
    pending_id = secrets.token_urlsafe(16)
    request = {
        "text": "my mailbox does not receive mail",
        "request_type": "email-not-working",
        "account": DEMO_ACCOUNT,
        "email": DEMO_EMAIL,
        "tz": tz,
        "details": details
        or {"mailbox": "info@lindqvist.example", "error_message": "550", "doing": "x"},
        "priority": "high",
        "emergency_claimed": False,
        **data,
    }
    now = at or dt.datetime.now(dt.UTC)
    with app.state.db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=DEMO_ACCOUNT,
                email=DEMO_EMAIL,
                data=request,
                client="test",
                listed=True,
                created_at=now,
            )
        )
    policy = app.state.policy.get()
    filing = file_pending(app.state.db, policy, settings, pending_id, accepted_now=False, now=now)
    assert filing is not None and filing.ticket is not None and filing.status_token
    return Filed(filing.ticket.number, filing.status_token)


def add_event(
    app: Starlette,
    number: str,
    kind: str,
    *,
    author: str = "staff",
    note: str = "",
    status: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """A history event, as staff tools (or the helpdesk sync) record it."""
    with app.state.db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at or dt.datetime.now(dt.UTC),
                kind=kind,
                status=status,
                author=author,
                note=note,
            )
        )
