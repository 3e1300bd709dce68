"""Which ticket a received mail answers.

First the signed reply address (``PORTAL_REPLY_ADDRESS``'s plus-address, among the
recipients); then the References chain: the In-Reply-To and References Message-IDs
against the Message-IDs recorded on the outbox rows of the mails we sent. A
plus-address whose signature does not hold names nothing (and says so: the intake
audits it), but the References may still find the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db.models import Outbox
from portal.mailin.parse import Parsed
from portal.notify.addresses import read_reply_address

MAX_REFERENCES = 50  # a long thread's References: the newest are enough


@dataclass(frozen=True)
class Match:
    number: str | None  # the ticket found, or None
    how: str  # "address", "references", or "" when nothing matched
    forged: str = ""  # a plus-address whose signature did not hold


def by_address(secret: str, reply_address: str, mail: Parsed) -> Match:
    """The ticket of the first signed plus-address among the recipients (pure)."""
    forged = ""
    if not reply_address:
        return Match(None, "")
    for recipient in mail.recipients:
        tag = read_reply_address(secret, reply_address, recipient)
        if tag is None:
            continue
        if tag.valid:
            return Match(tag.number, "address")
        forged = forged or recipient
    return Match(None, "", forged)


def find_ticket(session: Session, secret: str, reply_address: str, mail: Parsed) -> Match:
    found = by_address(secret, reply_address, mail)
    if found.number is not None:
        return found
    answers = list(mail.answers[:MAX_REFERENCES])
    if answers:
        rows = session.execute(
            select(Outbox.message_id, Outbox.ticket_number).where(
                Outbox.message_id.in_(answers), Outbox.ticket_number.is_not(None)
            )
        ).all()
        numbers = {message_id: number for message_id, number in rows}
        for message_id in answers:  # the mail it answers directly first
            if message_id in numbers:
                return Match(numbers[message_id], "references", found.forged)
    return Match(None, "", found.forged)
