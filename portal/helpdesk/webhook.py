"""A webhook (``PORTAL_HELPDESK_WEBHOOK``): every filed ticket and every addition of
the customer POSTed as JSON, the body signed with HMAC-SHA256 in ``X-Portal-Signature``
(``PORTAL_WEBHOOK_SECRET``) and the outbox row's id in ``X-Portal-Delivery`` (the same
on every retry, so a receiver can drop repeats)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import httpx2 as httpx
from sqlalchemy.orm import Session

from portal.db.models import Outbox, Ticket
from portal.helpdesk.base import Connector

KIND = "webhook"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def enqueue(
    session: Session, url: str, payload: dict[str, Any], *, purpose: str, ticket: str | None = None
) -> None:
    session.add(
        Outbox(
            kind=KIND,
            recipient=url,
            body=json.dumps(payload, sort_keys=True),
            purpose=purpose,
            ticket_number=ticket,
        )
    )


def post(row: Outbox, *, secret: str, timeout: float) -> None:
    """POST one queued webhook; raises unless the receiver answers 2xx."""
    body = row.body.encode("utf-8")
    response = httpx.post(
        row.recipient,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Portal-Signature": signature(secret, body),
            "X-Portal-Delivery": str(row.id),
        },
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
    if not 200 <= response.status_code < 300:
        raise OSError(f"webhook answered {response.status_code}")


class WebhookHelpdesk(Connector):
    name = "webhook"
    kind = KIND

    def __init__(self, url: str, *, secret: str, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def queue_filed(
        self, session: Session, ticket: Ticket, *, summary: str, payload: dict[str, Any]
    ) -> None:
        enqueue(session, self.url, payload, purpose="helpdesk", ticket=ticket.number)

    def queue_comment(
        self, session: Session, ticket: Ticket, text: str, *, files: Sequence[str] = ()
    ) -> None:  # the files stay in the portal: the text names them
        enqueue(
            session,
            self.url,
            {"event": "comment", "number": ticket.number, "text": text},
            purpose="comment",
            ticket=ticket.number,
        )

    def send(self, row: Outbox) -> None:
        post(row, secret=self.secret, timeout=self.timeout)
