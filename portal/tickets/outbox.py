"""The outbox: every email, webhook and helpdesk delivery is first a row, then a delivery.

Rows are written in the same transaction as the ticket they belong to, so nothing
acknowledged is ever lost; a worker delivers due rows, retrying with exponential
backoff until the server accepts them. Several processes may run workers: a row is
claimed with a conditional UPDATE before it is sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Outbox
from portal.notify import Message, addresses
from portal.notify import transport as mail

if TYPE_CHECKING:
    from portal.helpdesk.base import Connector

log = logging.getLogger("portal.outbox")
BASE_DELAY = 30  # seconds before the first retry; doubles each time
MAX_DELAY = 3600
LOCK_SECONDS = 120
# answers the portal writes by itself to mail it received (``portal.mailin``): marked
# so that other robots (vacation replies, list servers) do not answer them (RFC 3834)
AUTOMATIC_PURPOSES = frozenset({"mailin-refused", "mailin-attachments", "mailin-closed"})
AUTOMATIC_ANSWER = {"Auto-Submitted": "auto-replied"}


def enqueue(session: Session, message: Message) -> None:
    """Queue a rendered message (``portal.notify``) for delivery."""
    enqueue_email(
        session,
        message.to,
        message.subject,
        message.body,
        purpose=message.purpose,
        ticket=message.ticket,
    )


def enqueue_email(
    session: Session, to: str, subject: str, body: str, *, purpose: str, ticket: str | None = None
) -> None:
    session.add(
        Outbox(
            kind="email",
            recipient=to,
            subject=subject,
            body=body,
            purpose=purpose,
            ticket_number=ticket,
        )
    )


def enqueue_webhook(
    session: Session, url: str, payload: dict[str, Any], *, purpose: str, ticket: str | None = None
) -> None:
    """A webhook row (``portal.helpdesk.webhook.enqueue``; kept here for older callers —
    new code queues through ``portal.helpdesk.choose.connectors_for``)."""
    from portal.helpdesk import webhook

    webhook.enqueue(session, url, payload, purpose=purpose, ticket=ticket)


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


@dataclass
class Delivery:
    delivered: int = 0
    failed: int = 0


class Deliverer:
    def __init__(
        self,
        db: Database,
        mailer: mail.Mailer,
        *,
        sender: str,
        sender_name: str = "",
        webhook_secret: str,
        timeout: float = 10.0,
        reply_address: str = "",
        reply_secret: str = "",
        connectors: Sequence[Connector] = (),
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.sender = sender
        self.sender_name = sender_name
        self.webhook_secret = webhook_secret
        self.timeout = timeout
        # a ticket mail's Reply-To: the signed plus-address of this mailbox (none: From)
        self.reply_address = reply_address
        self.reply_secret = reply_secret
        # the helpdesk connectors (portal.helpdesk): rows of kind "helpdesk" go to the
        # one the row names
        self.connectors = {c.name: c for c in connectors}

    def _claim(self, now: dt.datetime, limit: int) -> list[Outbox]:
        with self.db.session() as session:
            due = session.scalars(
                select(Outbox)
                .where(
                    Outbox.delivered_at.is_(None),
                    Outbox.next_attempt_at <= now,
                    or_(Outbox.locked_until.is_(None), Outbox.locked_until < now),
                )
                .order_by(Outbox.next_attempt_at, Outbox.id)
                .limit(limit)
            ).all()
            claimed = []
            for row in due:
                result = session.execute(
                    update(Outbox)
                    .where(
                        Outbox.id == row.id,
                        or_(Outbox.locked_until.is_(None), Outbox.locked_until < now),
                    )
                    .values(locked_until=now + dt.timedelta(seconds=LOCK_SECONDS))
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    if row.kind == "email" and not row.message_id:
                        # recorded before the first attempt: every retry sends the same
                        # Message-ID, which a reply's References then name
                        row.message_id = addresses.new_message_id(
                            addresses.domain_of(self.sender), row.id
                        )
                    claimed.append(row)
            return claimed

    def _send(self, row: Outbox) -> None:
        if row.kind == "email":
            reply_to = ""
            if row.ticket_number and self.reply_address:
                with contextlib.suppress(ValueError):  # not a ticket number: no Reply-To
                    reply_to = addresses.reply_address(
                        self.reply_secret, self.reply_address, row.ticket_number
                    )
            self.mailer.send(
                mail.build(
                    self.sender,
                    row.recipient,
                    row.subject,
                    row.body,
                    sender_name=self.sender_name,
                    message_id=row.message_id or "",
                    reply_to=reply_to,
                    headers=AUTOMATIC_ANSWER if row.purpose in AUTOMATIC_PURPOSES else None,
                )
            )
        elif row.kind == "webhook":
            from portal.helpdesk import webhook

            webhook.post(row, secret=self.webhook_secret, timeout=self.timeout)
        elif row.kind == "helpdesk":
            connector = self.connectors.get(row.recipient)
            if connector is None:  # kept until the portal runs with that helpdesk again
                raise LookupError(f"the helpdesk {row.recipient!r} is not configured")
            connector.send(row)
        else:
            raise ValueError(f"unknown outbox kind {row.kind!r}")

    def deliver_due(self, now: dt.datetime | None = None, *, limit: int = 50) -> Delivery:
        now = now or dt.datetime.now(dt.UTC)
        result = Delivery()
        for row in self._claim(now, limit):
            error = ""
            try:
                self._send(row)
            except Exception as exc:  # any failure: keep the row and retry later
                error = f"{type(exc).__name__}: {exc}"[:500]
            with self.db.session() as session:
                fresh = session.get(Outbox, row.id)
                if fresh is None:
                    continue
                fresh.attempts += 1
                fresh.locked_until = None
                if error:
                    fresh.last_error = error
                    fresh.next_attempt_at = now + backoff(fresh.attempts)
                    result.failed += 1
                    log.warning("outbox %s (%s) failed: %s", row.id, row.purpose, error)
                else:
                    fresh.delivered_at = now
                    fresh.last_error = ""
                    result.delivered += 1
        return result


def deliverer_for(db: Database, settings: Settings, policy: Policy | None) -> Deliverer:
    """The deliverer of the running portal and of ``portal tickets outbox --deliver``:
    mail through ``PORTAL_SMTP_URL`` (else the console) from ``PORTAL_MAIL_FROM``, named
    after the policy's provider (without a policy: the site name); webhooks and the
    helpdesk of ``PORTAL_HELPDESK`` through their connectors (``portal.helpdesk``)."""
    from portal.helpdesk.choose import connectors_for

    return Deliverer(
        db,
        mail.mailer_for(settings.smtp_url),
        sender=settings.mail_from,
        sender_name=f"{policy.provider.name} support" if policy else settings.site_name,
        webhook_secret=settings.webhook_secret,
        reply_address=settings.reply_address,
        reply_secret=settings.secret_key,
        connectors=connectors_for(settings, db, policy),
    )


def pending(db: Database, *, include_delivered: bool = False, limit: int = 100) -> list[Outbox]:
    with db.session() as session:
        query = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
        if not include_delivered:
            query = query.where(Outbox.delivered_at.is_(None))
        return list(session.scalars(query))
