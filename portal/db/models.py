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
