"""Status links: one per ticket, issued at filing, expiring after
``PORTAL_STATUS_MAX_AGE``; a listed contact can ask for a new one by mail, which voids
the older ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from kb.policy import Policy
from portal import notify, ratelimit, urls
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, Ticket, TicketEvent
from portal.directory.importer import find_sender
from portal.tickets import outbox, tokens


@dataclass
class LinkAnswer:
    message: str
    throttled: bool = False


def status_token(settings: Settings, ticket: Ticket) -> str:
    """The ticket's current status token. It is issued once (at filing, or when a listed
    contact asks for a new one); this makes the same token again, with the same expiry,
    from the moment of issue stored on the ticket. It never makes a fresh one."""
    assert ticket.status_link_issued_at is not None
    return tokens.make(
        settings.secret_key,
        tokens.TICKET_STATUS,
        ticket.number,
        version=ticket.status_link_version,
        at=ticket.status_link_issued_at,
    )


def status_link(settings: Settings, ticket: Ticket) -> str:
    return urls.status_link(settings.base_url, ticket.number, status_token(settings, ticket))


def link_for_mail(settings: Settings, ticket: Ticket, now: dt.datetime) -> str:
    """The status link for a mail about the ticket (inside the session that loaded it).
    Tickets filed before links were versioned have no recorded issue: their first mail
    issues the link (version 0, so the links already sent keep working until they
    expire)."""
    if ticket.status_link_issued_at is None:
        ticket.status_link_issued_at = now
    return status_link(settings, ticket)


def status_link_valid(db: Database, number: str, version: int) -> bool:
    """Is ``version`` the ticket's current status-link version (older links are void)?"""
    with db.session() as session:
        current = session.scalar(select(Ticket.status_link_version).where(Ticket.number == number))
        return current is not None and current == version


LINK_ANSWER = (
    "If this address is a listed contact for ticket {number}, we have sent it a new link "
    "to the ticket's page. The new link replaces the ones sent before."
)

LINK_THROTTLED = (
    "Too many links were asked for from here or for this address recently. "
    "Please wait a while and try again."
)


def request_status_link(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    email: str,
    *,
    client: str,
    now: dt.datetime,
) -> LinkAnswer:
    """Mail a new status link for a ticket to a listed contact who asks for one: the
    contact who filed it, or a contact of the account with a role that may ask for
    restricted actions (e.g. the primary contact). The answer is the same for every
    ticket number and address; every attempt counts toward the rate limits. A new link
    invalidates the older ones (the ticket's link version goes up)."""
    email = email.strip().lower()
    answer = LINK_ANSWER.format(number=number)
    limiter = ratelimit.limiter_for(settings)
    with db.session() as session:
        counted = limiter.acquire(
            session, scope="status-link", address=email or None, client=client, now=now
        )
    if not counted:
        return LinkAnswer(LINK_THROTTLED, throttled=True)
    with db.session() as session:
        found = session.execute(
            select(Ticket.account_id, Ticket.contact_email).where(Ticket.number == number)
        ).first()
    sender = find_sender(db, found.account_id, email) if found else None
    allowed = sender is not None and (
        sender.email == (found.contact_email.lower() if found else "")
        or sender.role in policy.contacts.restricted_roles
    )
    with db.session() as session:
        if not allowed:
            session.add(
                AuditEntry(
                    at=now,
                    kind="status_link_refused",
                    account_id=found.account_id if found else "",
                    email=email,
                    detail=f"asked for a link to ticket {number}; nothing sent",
                )
            )
            return LinkAnswer(answer)
        assert sender is not None
        ticket = session.scalars(
            select(Ticket).where(Ticket.number == number).with_for_update()
        ).one()
        ticket.status_link_version += 1
        ticket.status_link_issued_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind="link_sent",
                author="customer",
                note=f"A new link to this page was sent to {sender.email}; older links no "
                "longer work.",
            )
        )
        days = settings.status_max_age // 86400
        lifetime = f"{days} days" if days > 1 else f"{settings.status_max_age // 3600} hours"
        message = notify.status_link(
            policy,
            ticket,
            to=sender.email,
            name=sender.name,
            link=status_link(settings, ticket),
            lifetime=lifetime,
        )
        outbox.enqueue(session, message)
    return LinkAnswer(answer)
