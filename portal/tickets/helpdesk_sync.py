"""Back from an external helpdesk (``portal.helpdesk``): its changes since the cursor
become the portal's.

A status change there sets the ticket's status (``states.helpdesk_status``)
and mails the customer as a status change in the portal does; public correspondence
becomes a ``reply`` event on the status page and a mail to the customer, its files
stored and checked like uploads (``portal.wizard.uploads``: type by content, size) and
named in the reply ("Attached: …", refused ones "Not attached: … (why)"). Internal
comments are never read. The changes and the moved cursor are one transaction, and the
cursor moves only from where this worker read it, so each change is applied once (the
files a transaction that did not commit stored are removed).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal import notify
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket, TicketEvent, Upload
from portal.helpdesk.base import Change, ChangeFile, ExternalHelpdesk, advance_cursor
from portal.tickets import outbox
from portal.tickets.links import link_for_mail
from portal.tickets.states import STATUS_LABELS, helpdesk_status
from portal.wizard import uploads

log = logging.getLogger("portal.helpdesk.sync")


@dataclass
class SyncReport:
    statuses: int = 0
    replies: int = 0
    skipped: bool = False  # another worker read the same changes first


class _Lost(Exception):
    """Another worker moved the cursor: roll this transaction back."""


def poll(
    db: Database,
    policy: Policy,
    settings: Settings,
    helpdesk: ExternalHelpdesk,
    *,
    now: dt.datetime | None = None,
) -> SyncReport:
    """Read the helpdesk's changes since the cursor and apply them."""
    now = now or dt.datetime.now(dt.UTC)
    report = SyncReport()
    cursor = helpdesk.read_cursor()
    if cursor is None:
        helpdesk.start_cursor()
        return report
    changes, new_cursor = helpdesk.changes_since(cursor, functools.partial(_known, db))
    stored: list[uploads.StoredFile] = []  # files of replies: removed if nothing commits
    try:
        with db.session() as session:
            if not advance_cursor(session, helpdesk.cursor_name, cursor, new_cursor):
                raise _Lost
            for change in changes:
                _apply(session, policy, settings, helpdesk.name, change, now, report, stored)
    except BaseException as exc:
        uploads.remove_files(settings.upload_dir, [f.id for f in stored])
        if isinstance(exc, _Lost):
            return SyncReport(skipped=True)
        raise
    if report.statuses or report.replies:
        log.info(
            "helpdesk %s: %s status changes, %s replies",
            helpdesk.name,
            report.statuses,
            report.replies,
        )
    return report


def _known(db: Database, external_id: str) -> bool:
    with db.session() as session:
        return (
            session.scalars(select(Ticket.id).where(Ticket.helpdesk_id == external_id)).first()
            is not None
        )


def _apply(
    session: Session,
    policy: Policy,
    settings: Settings,
    helpdesk: str,
    change: Change,
    now: dt.datetime,
    report: SyncReport,
    stored: list[uploads.StoredFile],
) -> None:
    ticket = session.scalars(select(Ticket).where(Ticket.helpdesk_id == change.external_id)).first()
    if ticket is None:
        return
    at = change.at or now
    if change.kind == "status":
        status = helpdesk_status(helpdesk, change.status)
        if status is None or status == ticket.status:
            return
        ticket.status = status
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at,
                kind="status",
                status=status,
                author="staff",
                note="",
            )
        )
        message = notify.status_changed(
            policy,
            ticket,
            label=STATUS_LABELS[status],
            note="",
            link=link_for_mail(settings, ticket, now),
        )
        outbox.enqueue(session, message)
        report.statuses += 1
    elif change.kind == "reply":
        ticket.updated_at = now
        accepted, refused = _store_files(session, settings, ticket, change.files, at, stored)
        note = reply_note(change.text, accepted, refused)
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at,
                kind="reply",
                status=ticket.status,
                author="staff",
                note=note,
            )
        )
        message = notify.helpdesk_reply(
            policy, ticket, text=note, link=link_for_mail(settings, ticket, now)
        )
        outbox.enqueue(session, message)
        report.replies += 1


def reply_note(text: str, accepted: list[str], refused: list[tuple[str, str]]) -> str:
    """A reply's words with its files named, as a mailed answer's are
    (``portal.mailin.intake``): the status page links the attached ones beside it."""
    lines = [text] if text else []
    if accepted:
        lines.append("Attached: " + ", ".join(accepted))
    if refused:
        lines.append("Not attached: " + "; ".join(f"{n} ({why})" for n, why in refused))
    return "\n\n".join(lines)


def _store_files(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    files: tuple[ChangeFile, ...],
    at: dt.datetime,
    stored: list[uploads.StoredFile],
) -> tuple[list[str], list[tuple[str, str]]]:
    """Store a reply's files as the ticket's uploads, made at the reply's moment (how
    the status page puts them beside it); returns the names attached and those refused
    with why."""
    accepted: list[str] = []
    refused: list[tuple[str, str]] = []
    limit = settings.max_upload_bytes
    for file in files:
        name = uploads.safe_filename(file.filename)
        if file.data is None:  # over the limit: the helpdesk did not even send it
            refused.append(
                (
                    name,
                    f"The file is {file.size / 1048576:.1f} MB; the limit is "
                    f"{limit / 1048576:.0f} MB.",
                )
            )
            continue
        try:
            saved = uploads.store(settings.upload_dir, file.filename, file.data, max_bytes=limit)
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
                created_at=at,
            )
        )
    return accepted, refused
