"""Mail in from our own side: the upstream provider answering a forwarded ticket, and
staff answering a staff notification. Both land as internal notes (never shown to
the customer), not as the customer's additions, and are never answered.

Who they are, by sender: ``PORTAL_UPSTREAM_EMAIL`` is the upstream provider;
``PORTAL_HELPDESK_EMAIL`` and the address of every active staff member are staff
(:func:`internal_author`, pure). A From address is easy to forge, and the customer
knows the ticket's signed reply address, so the sender alone is not enough: the mail
must also answer (In-Reply-To / References) a mail of that ticket that we sent to that
side — the forward, for the upstream provider; a staff notification or helpdesk copy,
for staff (:func:`answers_our_mail`). Those Message-IDs are random and only ever went
to those mailboxes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db.models import Outbox, StaffUser
from portal.mailin.parse import Parsed

UPSTREAM, STAFF = "upstream", "staff"  # ticket_events.author of the note
UPSTREAM_PURPOSE = "upstream"  # the outbox purpose of the forward (notify.upstream)
MAX_REFERENCES = 50


@dataclass(frozen=True)
class Author:
    """Who from our side wrote: ``kind`` is UPSTREAM or STAFF; ``staff_id`` the staff
    member's id (None for the shared helpdesk mailbox and the upstream provider);
    ``mailboxes`` the addresses whose mails for the ticket the answer must name."""

    kind: str
    staff_id: int | None
    mailboxes: frozenset[str]


def internal_author(
    sender: str, *, upstream: str, helpdesk: str, staff: Mapping[str, int]
) -> Author | None:
    """The upstream provider or staff, by the sender's address (case does not count);
    None for anyone else. ``staff``: the active staff members' addresses (lower case)
    and ids. Pure."""
    sender = sender.strip().lower()
    upstream, helpdesk = upstream.strip().lower(), helpdesk.strip().lower()
    if not sender:
        return None
    if upstream and sender == upstream:
        return Author(UPSTREAM, None, frozenset({upstream}))
    ours = frozenset({*staff, helpdesk} - {""})
    if sender in staff:
        return Author(STAFF, staff[sender], ours)
    if helpdesk and sender == helpdesk:
        return Author(STAFF, None, ours)
    return None


def active_staff(session: Session) -> dict[str, int]:
    """Every active staff member's address (lower case) and id."""
    rows = session.execute(select(StaffUser.email, StaffUser.id).where(StaffUser.active))
    return {email.strip().lower(): staff_id for email, staff_id in rows}


def answers_our_mail(
    session: Session,
    mail: Parsed,
    number: str,
    mailboxes: Collection[str],
    *,
    purpose: str | None = None,
) -> bool:
    """True when the mail's In-Reply-To / References name a mail of ticket ``number``
    that we sent to one of ``mailboxes`` (of ``purpose``, when given)."""
    answers = list(mail.answers[:MAX_REFERENCES])
    if not answers or not mailboxes:
        return False
    query = select(Outbox.id).where(
        Outbox.message_id.in_(answers),
        Outbox.ticket_number == number,
        func.lower(Outbox.recipient).in_(sorted(mailboxes)),
    )
    if purpose is not None:
        query = query.where(Outbox.purpose == purpose)
    return session.scalar(query.limit(1)) is not None
