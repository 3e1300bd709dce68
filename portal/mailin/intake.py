"""Applying a received mail, exactly once.

A mail from a listed contact of the ticket's account becomes a "comment" event by the
customer, with its attachments checked like uploads (``portal.wizard.uploads``); the
helpdesk hears of it as of any addition. Anyone else gets a polite answer and an audit
row, and nothing reaches the thread. A mail that answers no ticket (or names one with a
forged reply address) is audited and not answered: answering unknown mail would send
our mail to whoever a spammer claims to be. Automatic mail (vacation replies, bounces,
lists) is never answered. Each mail is recorded by its Message-ID in the same
transaction as what it changed, so a second delivery does nothing.

The upstream provider answering a forwarded ticket, and staff answering a staff
notification (``portal.mailin.internal``), add an internal note instead ("note", by
"upstream" or "staff": never shown to the customer, never sent on to the helpdesk) and
are never answered; their attachments are not stored with the ticket, whose files
the customer sees.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import notify, ratelimit
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, Contact, InboundMail, Ticket, TicketEvent, Upload
from portal.helpdesk.base import Connector
from portal.helpdesk.choose import connectors_for
from portal.mailin import internal
from portal.mailin.match import find_ticket
from portal.mailin.parse import Parsed, parse
from portal.tickets import outbox
from portal.tickets.states import CLOSED, STATUS_LABELS
from portal.wizard import uploads

log = logging.getLogger("portal.mailin")

ADDED, REFUSED, CLOSED_TICKET, UNMATCHED, IGNORED, EMPTY, DUPLICATE, NOTED = (
    "added",
    "refused",
    "closed",
    "unmatched",
    "ignored",
    "empty",
    "duplicate",
    "noted",  # an internal note from the upstream provider or staff
)


@dataclass(frozen=True)
class Outcome:
    outcome: str  # one of the constants above
    number: str | None = None
    how: str = ""  # how the ticket was found: "address" or "references"


def _audit(
    session: Session, now: dt.datetime, kind: str, mail: Parsed, detail: str, account: str = ""
) -> None:
    session.add(
        AuditEntry(
            at=now, kind=kind, account_id=account, email=mail.sender[:254], detail=detail[:2000]
        )
    )


def _answer(
    session: Session, settings: Settings, message: notify.Message, now: dt.datetime
) -> None:
    """Queue an automatic answer, within the filing rate limits (``PORTAL_RATE_LIMITS``:
    per address, and for all automatic answers together as one client), so that mail
    with forged senders cannot make the portal mail someone again and again."""
    limiter = ratelimit.limiter_for(settings)
    if limiter.acquire(session, scope="mailin-answer", address=message.to, client="mail", now=now):
        outbox.enqueue(session, message)
    else:
        log.warning("mail in: no automatic answer to %s (rate limit)", message.to)


def _ours(settings: Settings, sender: str) -> bool:
    own = {settings.mail_from.lower(), settings.reply_address.lower()} - {""}
    local, _, domain = sender.partition("@")
    return sender in own or any(local.split("+", 1)[0] + "@" + domain == address for address in own)


def receive(
    db: Database, settings: Settings, raw: bytes, *, provider: str, now: dt.datetime
) -> Outcome:
    """Apply one raw mail; returns what happened. A second delivery of the same mail
    (same Message-ID) changes nothing and answers ``duplicate``."""
    mail = parse(raw)
    stored: list[uploads.StoredFile] = []
    try:
        with db.session() as session:
            if session.scalar(select(InboundMail.id).where(InboundMail.key == mail.key)):
                return Outcome(DUPLICATE)
            connectors = connectors_for(settings, db)
            outcome = _apply(
                session, settings, connectors, mail, stored, provider=provider, now=now
            )
            session.add(
                InboundMail(
                    key=mail.key,
                    at=now,
                    sender=mail.sender[:254],
                    ticket_number=outcome.number,
                    outcome=outcome.outcome,
                )
            )
            session.flush()  # the unique key: a concurrent delivery fails here
    except IntegrityError:
        uploads.remove_files(settings.upload_dir, [f.id for f in stored])
        return Outcome(DUPLICATE)
    except Exception:
        uploads.remove_files(settings.upload_dir, [f.id for f in stored])
        raise
    log.info("mail %s from %s: %s %s", mail.key, mail.sender, outcome.outcome, outcome.number or "")
    return outcome


def _apply(
    session: Session,
    settings: Settings,
    connectors: list[Connector],
    mail: Parsed,
    stored: list[uploads.StoredFile],
    *,
    provider: str,
    now: dt.datetime,
) -> Outcome:
    if not mail.sender or _ours(settings, mail.sender):
        return Outcome(IGNORED)  # our own mail coming back: never answer it
    found = find_ticket(session, settings.secret_key, settings.reply_address, mail)
    if found.forged:
        _audit(
            session,
            now,
            "mailin_forged_address",
            mail,
            f"mail to {found.forged}: its signature does not match"
            + (f"; found {found.number} by its references" if found.number else "; nothing added"),
        )
    ticket = (
        session.scalars(select(Ticket).where(Ticket.number == found.number)).first()
        if found.number
        else None
    )
    if ticket is None:
        if not found.forged:
            _audit(
                session,
                now,
                "mailin_unmatched",
                mail,
                f"a mail ({mail.subject[:200]!r}) that answers no ticket mail; nothing added",
            )
        return Outcome(UNMATCHED)
    number = ticket.number
    if mail.automatic:
        _audit(
            session,
            now,
            "mailin_automatic",
            mail,
            f"an automatic reply to {number}; ignored",
            ticket.account_id,
        )
        return Outcome(IGNORED, number, found.how)
    author = internal.internal_author(
        mail.sender,
        upstream=settings.upstream_email,
        helpdesk=settings.helpdesk_email,
        staff=internal.active_staff(session),
    )
    if author is not None:
        return _internal_note(session, ticket, mail, author, how=found.how, now=now)
    contact = session.scalars(
        select(Contact).where(Contact.account_id == ticket.account_id, Contact.email == mail.sender)
    ).first()
    if contact is None:
        _audit(
            session,
            now,
            "mailin_unlisted",
            mail,
            f"mailed about {number}, not a listed contact of the account; nothing added",
            ticket.account_id,
        )
        _answer(
            session, settings, notify.mailin_refused(mail.sender, number, provider=provider), now
        )
        return Outcome(REFUSED, number, found.how)
    if ticket.status in CLOSED:
        _answer(
            session,
            settings,
            notify.mailin_closed(
                ticket,
                to=contact.email,
                name=contact.name,
                status=STATUS_LABELS.get(ticket.status, ticket.status),
                link=settings.base_url + "request",
                provider=provider,
            ),
            now,
        )
        return Outcome(CLOSED_TICKET, number, found.how)
    accepted: list[str] = []
    refused: list[tuple[str, str]] = []
    for attachment in mail.attachments:
        name = uploads.safe_filename(attachment.filename)
        try:
            saved = uploads.store(
                settings.upload_dir,
                attachment.filename,
                attachment.data,
                max_bytes=settings.max_upload_bytes,
            )
        except uploads.UploadError as exc:
            refused.append((name, str(exc)))
            continue
        stored.append(saved)
        accepted.append(saved.filename)
        session.add(
            Upload(
                id=saved.id,
                draft_id=None,
                ticket_id=ticket.id,
                filename=saved.filename,
                content_type=saved.content_type,
                size=saved.size,
                sha256=saved.sha256,
                created_at=now,
            )
        )
    if mail.too_many_attachments:
        refused.append(
            (f"{mail.too_many_attachments} more", f"at most {len(mail.attachments)} files per mail")
        )
    if not mail.text and not accepted:
        _audit(
            session, now, "mailin_empty", mail, f"an empty answer to {number}", ticket.account_id
        )
        return Outcome(EMPTY, number, found.how)
    lines = [mail.text] if mail.text else []
    if accepted:
        lines.append("Attached: " + ", ".join(accepted))
    if refused:
        lines.append("Not attached: " + "; ".join(f"{n} ({r})" for n, r in refused))
    note = "\n\n".join(lines)
    session.add(
        TicketEvent(ticket_id=ticket.id, at=now, kind="comment", author="customer", note=note)
    )
    ticket.updated_at = now
    if ticket.status == "waiting_for_customer":
        ticket.status = "open"
    # to the helpdesk (RT: as correspondence, with the attached files) and the mail and
    # webhook copies, as for an addition made on the status page
    for connector in connectors:
        connector.queue_comment(session, ticket, note, files=[f.id for f in stored])
    if refused:
        limit = f"{settings.max_upload_bytes / 1048576:.0f} MB"
        _answer(
            session,
            settings,
            notify.mailin_attachments(
                ticket,
                to=contact.email,
                name=contact.name,
                refused=refused,
                limit=limit,
                provider=provider,
            ),
            now,
        )
    return Outcome(ADDED, number, found.how)


def _internal_note(
    session: Session,
    ticket: Ticket,
    mail: Parsed,
    author: internal.Author,
    *,
    how: str,
    now: dt.datetime,
) -> Outcome:
    """The upstream provider's or a staff member's answer as an internal note, when it
    answers a mail of this ticket that we sent them; otherwise audited and dropped.
    Never answered either way (no mail to our own side, no loops)."""
    number = ticket.number
    proven = internal.answers_our_mail(
        session,
        mail,
        number,
        author.mailboxes,
        purpose=internal.UPSTREAM_PURPOSE if author.kind == internal.UPSTREAM else None,
    )
    if not proven:
        what = "the forward" if author.kind == internal.UPSTREAM else "a staff mail"
        _audit(
            session,
            now,
            "mailin_internal_unproven",
            mail,
            f"mailed about {number} from the {author.kind} address without answering "
            f"{what} of this ticket; nothing added",
            ticket.account_id,
        )
        return Outcome(REFUSED, number, how)
    names = [uploads.safe_filename(a.filename) for a in mail.attachments]
    if not mail.text and not names:
        _audit(
            session, now, "mailin_empty", mail, f"an empty answer to {number}", ticket.account_id
        )
        return Outcome(EMPTY, number, how)
    lines = [f"By mail from {mail.sender}:"]
    if mail.text:
        lines.append(mail.text)
    if names:
        lines.append(
            "Not attached (files are kept only from the customer, who sees them): "
            + ", ".join(names)
        )
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            kind="note",
            author=author.kind,
            note="\n\n".join(lines),
            staff_id=author.staff_id,
        )
    )
    ticket.updated_at = now
    return Outcome(NOTED, number, how)
