"""Tables. Changes go through an Alembic migration in portal/migrations/versions/."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores no offset) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware datetimes only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Draft(Base):
    """A request being prepared in the wizard, owned by one browser session."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(43), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Upload(Base):
    """A file attached to a draft (and later to its ticket); bytes live on disk."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    draft_id: Mapped[str | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), index=True, nullable=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True, nullable=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Event(Base):
    """An anonymous analytics event: no names, emails, account ids or IP addresses."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    key: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(40))
    plan_ends: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    product_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))


class Server(Base):
    __tablename__ = "servers"
    __table_args__ = (UniqueConstraint("account_id", "server_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    server_id: Mapped[str] = mapped_column(String(60))
    owner: Mapped[str] = mapped_column(String(20), default="own")  # own | upstream
    # the last day of the server's current billing period (#15): a customer's
    # cancellation takes effect then (``portal.notices``); None when not known
    billing_ends: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class PendingRequest(Base):
    """A reviewed request waiting for its sender to prove they own the address."""

    __tablename__ = "pending_requests"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client: Mapped[str] = mapped_column(String(64), index=True)  # hashed client address
    listed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    pending_id: Mapped[str] = mapped_column(String(43), unique=True)  # files exactly once
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_role: Mapped[str] = mapped_column(String(40))
    request_type: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(String(40))
    plan_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[str] = mapped_column(String(40))
    emergency_claimed: Mapped[bool] = mapped_column(default=False)
    emergency_accepted: Mapped[bool] = mapped_column(default=False)
    # what happened to the claim: kb.policy.engine.EMERGENCY_OUTCOMES
    emergency_outcome: Mapped[str] = mapped_column(String(30), default="none")
    coverage_status: Mapped[str] = mapped_column(String(30))
    coverage_reason: Mapped[str] = mapped_column(Text)
    estimate: Mapped[str | None] = mapped_column(Text, nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    routing: Mapped[str] = mapped_column(String(20), default="own")
    status: Mapped[str] = mapped_column(String(30), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # the one status link: its version is in the token (a new link invalidates the older
    # ones) and its moment of issue makes the same token again for the ticket's mails
    status_link_version: Mapped[int] = mapped_column(Integer, default=0)
    status_link_issued_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # staff console (#15): the staff member it is assigned to; the ticket a duplicate
    # was merged into
    assigned_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merged_into: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # waivers (#12): what the customer claimed when filing ([{"id", "text"}], a claim
    # only) and staff's confirmation of one of them (portal.tickets.waivers)
    waivers_claimed: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    waiver_confirmed: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    waiver_confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    waiver_confirmed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    waiver_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the external helpdesk's id of the ticket once delivered there (#16, portal.helpdesk),
    # e.g. RT's ticket number: a retry finds it instead of creating another
    helpdesk_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # the known incident an emergency claim was attached to (#15, ``portal.incidents``):
    # such a claim never counts toward the abuse rule
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class TicketEvent(Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # filed, status, comment, feedback, emergency_rejected, link_sent
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    author: Mapped[str] = mapped_column(String(20))  # customer, staff, system
    note: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # who wrote it (#15)


class Outbox(Base):
    """Mail and webhook deliveries, retried with backoff until accepted."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(40), default="")
    ticket_number: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # an e-mail's Message-ID, recorded before its first attempt (``portal.mailin``
    # finds the ticket of a reply from the References that name it)
    message_id: Mapped[str | None] = mapped_column(String(250), nullable=True, index=True)


class HelpdeskCursor(Base):
    """How far the portal has read an external helpdesk's changes (#16): e.g. the last
    RT transaction id seen. Advanced with a compare-and-set, so each change is applied
    once even with several workers polling."""

    __tablename__ = "helpdesk_cursors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RateHit(Base):
    """One counted attempt for a rate limit (e.g. asking for a fresh status link): the
    scope names the limit, the key is a keyed hash of the address or client."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """What staff should know about: unlisted senders, refused requests."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class SigninRequest(Base):
    """A pending sign-in by e-mailed code or link (``portal.accounts.signin``): made
    for every address asked for (listed or not, so the work is the same), bound to
    the browser that asked (a keyed hash of its pending-sign-in cookie). The code and
    the link's token are stored as keyed hashes only."""

    __tablename__ = "signin_requests"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    account_key: Mapped[str] = mapped_column(String(40), default="")  # "" = any account
    browser: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    listed: Mapped[bool] = mapped_column(default=False)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # awaits a pick
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class CustomerSession(Base):
    """A signed-in customer: one contact of one account, until it expires
    (``PORTAL_SIGNIN_DAYS``) or is signed out. The id is a keyed hash of the
    browser's sign-in cookie."""

    __tablename__ = "customer_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class StaffUser(Base):
    """A staff member of the console (``portal staff add``): argon2 password hash,
    TOTP secret for admins, lockout after failed sign-ins (``portal.staff``)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # admin | agent
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the one set-password link that works: its nonce (cleared when used)
    password_nonce: Mapped[str | None] = mapped_column(String(43), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)  # no code twice
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A signed-in staff member; the id is the SHA-256 of the browser's cookie."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffAudit(Base):
    """Every staff action and sign-in attempt (``portal staff audit``)."""

    __tablename__ = "staff_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staff_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    ticket_number: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")


class InboundMail(Base):
    """A mail received for the tickets (``portal.mailin``), once: a second delivery of
    the same message (IMAP read again, a POST repeated) finds its key and does nothing."""

    __tablename__ = "inbound_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # the Message-ID, or a hash of the raw message when it has none
    key: Mapped[str] = mapped_column(String(250), unique=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sender: Mapped[str] = mapped_column(String(254), default="")
    ticket_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # added (to the thread), refused (unlisted sender, closed ticket), unmatched, ignored
    outcome: Mapped[str] = mapped_column(String(20))


class StaffNotice(Base):
    """A staff notification that was queued (``portal.alerts``): its key (e.g.
    ``overdue:42``) is unique, so each is mailed exactly once, by whichever worker
    inserts it first."""

    __tablename__ = "staff_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # new, replied, due_soon, overdue
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """A known incident or a planned maintenance window (``portal.incidents``), shown
    on /status, the home page and in the wizard while open."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), default="incident")  # incident | maintenance
    title: Mapped[str] = mapped_column(String(200))
    # investigating, identified, monitoring, resolved (portal.incidents.matching.STATUSES)
    status: Mapped[str] = mapped_column(String(20), default="investigating", index=True)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    servers: Mapped[list[str]] = mapped_column(JSON, default=list)  # server names or ids
    starts_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # maintenance window
    ends_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class IncidentUpdate(Base):
    """A public update of an incident: what staff said, when, at which status."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(254), default="")  # staff e-mail or cli:<user>


class IncidentSubscription(Base):
    """ "Tell me when it's fixed": a listed contact waiting for an incident's end."""

    __tablename__ = "incident_subscriptions"
    __table_args__ = (UniqueConstraint("incident_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notice(Base):
    """A scheduled notice (``portal.notices``): mailed through the outbox when due, by
    exactly one worker. The key is unique, so scheduling the same notice twice (two
    scans, two workers) makes one row; a row is claimed with ``FOR UPDATE SKIP LOCKED``
    on PostgreSQL (one writer on SQLite) and marked sent in the transaction that queues
    its mail."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    # server_cancellation, cancellation_warning, plan_ending, waiting_reminder,
    # maintenance, incident_resolved
    kind: Mapped[str] = mapped_column(String(30), index=True)
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(20), default="scheduled", index=True)
    recipient: Mapped[str] = mapped_column(String(254), default="")
    account_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    server_id: Mapped[str] = mapped_column(String(60), default="")
    ticket_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # what the mail says that is fixed when scheduled (e.g. the cancellation date)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class PortalState(Base):
    """Small facts the processes of one portal share through its database, by key:
    ``served_base_url``, the address a running ``portal serve`` links to
    (``portal/served.py``), which the other verbs' mail links to."""

    __tablename__ = "portal_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
