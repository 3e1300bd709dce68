"""What filing a request schedules by itself: a request type with ``schedules:
cancellation`` (the policy's ``request_types[].schedules``) schedules the cancellation
of the server the request names at the end of its billing period, with the policy's
warning (``portal.scheduling.rows.schedule_cancellation_in``), in the ticket's own
transaction. The customer is told the day in the ticket's history and the confirmation
mail; when nothing can be scheduled (no server of the account named, no billing period
end in the directory, one already scheduled) they are told so and staff get an audit
row (``cancellation_not_scheduled``) saying why."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from kb.policy.model import RequestType
from portal.db.models import AuditEntry, Notice, Ticket
from portal.directory.servers import DirectoryServer
from portal.scheduling import rows

NOT_SCHEDULED = "cancellation_not_scheduled"  # the audit row's kind


def day_text(day: dt.date) -> str:
    """ "Thu 31 Dec 2026", as the notices write a day."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def on_filing(
    session: Session,
    policy: Policy,
    rt: RequestType,
    ticket: Ticket,
    server: DirectoryServer | None,
    *,
    now: dt.datetime,
) -> str:
    """Schedule what ``rt`` schedules for the ticket just added to ``session`` (its
    number set); the customer's words for what was (or was not) scheduled, "" when
    the type schedules nothing."""
    if rt.schedules != "cancellation":
        return ""
    if server is None:
        return _not_scheduled(
            session,
            ticket,
            now,
            staff="the request names none of the account's servers",
            customer="the request does not name one of your account's servers as we list them",
        )
    existing = session.scalars(
        select(Notice).where(
            Notice.kind == "server_cancellation",
            Notice.state == "scheduled",
            Notice.account_id == ticket.account_id,
            Notice.server_id == server.server_id,
        )
    ).first()
    if existing is not None:
        last_day = dt.date.fromisoformat(str(existing.data.get("last_day")))
        _audit(
            session,
            ticket,
            now,
            f"{server.label} already has a cancellation scheduled (notice {existing.id}, "
            f"last day {last_day.isoformat()}); nothing new was scheduled",
        )
        return (
            f"Your server {server.label} already has a cancellation scheduled: its last day "
            f"is {day_text(last_day)}. Nothing new was scheduled."
        )
    try:
        done = rows.schedule_cancellation_in(
            session,
            policy,
            ticket.account_id,
            server.server_id,
            now=now,
            ticket_number=ticket.number,
        )
    except LookupError:
        return _not_scheduled(
            session,
            ticket,
            now,
            staff=f"the directory no longer lists {server.label}",
            customer=f"we no longer list {server.label} on your account",
        )
    except rows.NoticeError:
        return _not_scheduled(
            session,
            ticket,
            now,
            staff=f"the directory has no billing period end for {server.label}",
            customer=f"we have no end of the billing period on record for {server.label}",
        )
    last_day = dt.date.fromisoformat(str(done.cancellation.data["last_day"]))
    zone = policy.provider.timezone
    words = (
        f"Your server {server.label} is scheduled to be cancelled automatically: its last "
        f"day is {day_text(last_day)}, the end of its billing period, and it is cancelled "
        f"when that day ends ({zone} time)."
    )
    if done.warning_at is not None and done.warning_at > now:
        warn_day = done.warning_at.astimezone(zoneinfo.ZoneInfo(zone)).date()
        words += f" The account's primary contact is warned by e-mail on {day_text(warn_day)}."
    return words


def _not_scheduled(
    session: Session, ticket: Ticket, now: dt.datetime, *, staff: str, customer: str
) -> str:
    _audit(
        session,
        ticket,
        now,
        f"{staff}: schedule it with `portal notices schedule-cancellation "
        f"{ticket.account_id} SERVER`",
    )
    return f"No cancellation was scheduled automatically: {customer}. Our staff will see to it."


def _audit(session: Session, ticket: Ticket, now: dt.datetime, why: str) -> None:
    session.add(
        AuditEntry(
            at=now,
            kind=NOT_SCHEDULED,
            account_id=ticket.account_id,
            email=ticket.contact_email,
            detail=f"ticket {ticket.number} ({ticket.request_type}): {why}",
        )
    )
