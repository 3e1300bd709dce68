"""Filing: from a reviewed request to a ticket, only for listed contacts, exactly once.

``submit`` answers the same way whether or not the sender is a listed contact; only a
listed contact gets a link. ``file_pending`` turns a pending request into a ticket
once; a second call returns the ticket already filed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS
from kb.policy.engine import (
    Coverage,
    Facts,
    coverage,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    plan_on,
)
from portal.accounts import Sender, find_sender
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, PendingRequest, Ticket, TicketEvent, Upload
from portal.tickets import numbers, outbox, tokens
from portal.wizard.flow import acceptance_key

STATUSES = ("open", "in_progress", "waiting_for_customer", "completed", "cancelled")
STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "waiting_for_customer": "Waiting for you",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
CLOSED = ("completed", "cancelled")
GENERIC_ANSWER = (
    "If this address is listed as a contact of the account, we have sent it a link to "
    "file the request. The link works once and expires in {minutes} minutes."
)


def client_key(secret: str, client: str) -> str:
    """A client address reduced to a keyed hash: enough to rate-limit, not to identify."""
    return hashlib.sha256(f"{secret}:{client}".encode()).hexdigest()[:32]


@dataclass
class SubmitResult:
    message: str
    throttled: bool = False


def _recent(db: Database, column: Any, value: str, since: dt.datetime) -> int:
    with db.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(PendingRequest)
            .where(column == value, PendingRequest.created_at >= since)
        )
        return int(count or 0)


def submit(
    db: Database,
    policy: Policy,
    settings: Settings,
    data: dict[str, Any],
    *,
    client: str,
    now: dt.datetime,
) -> SubmitResult:
    """Accept a reviewed request for verification. Never says whether the sender is listed."""
    email = str(data["email"]).lower()
    account_id = str(data["account"])
    client_hash = client_key(settings.secret_key, client)
    answer = GENERIC_ANSWER.format(minutes=settings.verify_max_age // 60)
    per_address, per_client = settings.rate_limit_address, settings.rate_limit_client
    if (
        _recent(db, PendingRequest.email, email, now - dt.timedelta(seconds=per_address[1]))
        >= per_address[0]
        or _recent(
            db, PendingRequest.client, client_hash, now - dt.timedelta(seconds=per_client[1])
        )
        >= per_client[0]
    ):
        return SubmitResult(
            "Too many requests were sent from here or for this address recently. "
            "Please wait a while and try again; nothing you typed is lost.",
            throttled=True,
        )
    sender = find_sender(db, account_id, email)
    pending_id = secrets.token_urlsafe(32)
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account_id,
                email=email,
                data=clean,
                client=client_hash,
                listed=sender is not None,
                created_at=now,
            )
        )
        if sender is None:
            session.add(
                AuditEntry(
                    at=now,
                    kind="unlisted_sender",
                    account_id=account_id,
                    email=email,
                    detail=f"request type {data.get('request_type')}; nothing filed or sent",
                )
            )
            return SubmitResult(answer)
        rt = policy.request_types[data["request_type"]]
        if rt.roles and sender.role not in rt.roles:
            session.add(
                AuditEntry(
                    at=now,
                    kind="role_refused",
                    account_id=account_id,
                    email=email,
                    detail=f"{sender.role} may not ask for {rt.id}",
                )
            )
            roles = " or ".join(
                (policy.contacts.role(r).name if policy.contacts.role(r) else r).lower()  # type: ignore[union-attr]
                for r in rt.roles
            )
            outbox.enqueue_email(
                session,
                email,
                f"Your request “{rt.title}” needs another contact",
                f"Hello {sender.name},\n\nYou asked for “{rt.title}” on account {account_id}. "
                f"Only the account's {roles} may ask for this, so nothing was filed.\n"
                "Please ask them to send the request.\n\n"
                f"{policy.provider.name} support\n",
                purpose="role-refused",
            )
            return SubmitResult(answer)
        link = (
            settings.base_url
            + "request/confirm?token="
            + tokens.make(settings.secret_key, tokens.FILE_REQUEST, pending_id)
        )
        outbox.enqueue_email(
            session,
            email,
            f"Confirm your support request: {rt.title}",
            f"Hello {sender.name},\n\n"
            f"Someone (we hope you) prepared a support request for account {account_id}:\n\n"
            f"  {rt.title}\n  “{one_paragraph(str(data.get('text', '')))}”\n\n"
            f"To file it, open this link within {settings.verify_max_age // 60} minutes:\n\n"
            f"{link}\n\n"
            "The link works once. If you did not ask for this, ignore this message; "
            "nothing is filed without the link.\n\n"
            f"{policy.provider.name} support\n",
            purpose="verify",
        )
    return SubmitResult(answer)


def one_paragraph(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Filing:
    """What filing a pending request would do (or did)."""

    pending: PendingRequest
    sender: Sender | None
    plan: str | None = None
    coverage: Coverage | None = None
    needs_acceptance: bool = False
    ticket: Ticket | None = None
    problem: str = ""
    created: bool = False  # this call filed the ticket (not an earlier one)


def _fallback_plan(policy: Policy) -> str | None:
    return next((p.id for p in policy.plans.values() if p.price.kind in ("included", "none")), None)


def prepare(db: Database, policy: Policy, pending_id: str, *, now: dt.datetime) -> Filing | None:
    """Recheck a pending request against the directory and the current policy."""
    with db.session() as session:
        pending = session.get(PendingRequest, pending_id)
        if pending is None:
            return None
        if pending.ticket_number:
            ticket = session.scalars(
                select(Ticket).where(Ticket.number == pending.ticket_number)
            ).one()
            return Filing(pending, None, ticket=ticket)
    sender = find_sender(db, pending.account_id, pending.email)
    if sender is None:
        return Filing(pending, None, problem="This address is no longer a contact of the account.")
    data = pending.data
    plan = plan_on(policy, sender.plan, sender.plan_ends, now, _fallback_plan(policy))
    if plan not in policy.plans or data.get("request_type") not in policy.request_types:
        return Filing(
            pending, sender, problem="The support policy has changed; please start again."
        )
    cov = coverage(
        policy,
        data["request_type"],
        Facts(plan=plan, version=sender.product_version or data.get("version"), role=sender.role),
    )
    filing = Filing(pending, sender, plan=plan, coverage=cov)
    if not cov.can_continue:
        filing.problem = cov.reason
    elif cov.needs_acceptance and data.get("accepted") != acceptance_key(cov):
        filing.needs_acceptance = True
    return filing


def rejected_emergency_claims(db: Database, account_id: str) -> list[dt.datetime]:
    with db.session() as session:
        rows = session.scalars(
            select(Ticket.created_at).where(
                Ticket.account_id == account_id,
                Ticket.emergency_claimed.is_(True),
                Ticket.emergency_accepted.is_(False),
            )
        )
        return list(rows)


def file_pending(
    db: Database,
    policy: Policy,
    settings: Settings,
    pending_id: str,
    *,
    accepted_now: bool,
    now: dt.datetime,
) -> Filing | None:
    """File the pending request as a ticket, exactly once."""
    filing = prepare(db, policy, pending_id, now=now)
    if filing is None or filing.ticket is not None or filing.problem:
        return filing
    if filing.needs_acceptance and not accepted_now:
        return filing
    assert filing.sender is not None and filing.plan is not None and filing.coverage is not None
    sender, plan, cov = filing.sender, filing.plan, filing.coverage
    data = filing.pending.data
    rt = policy.request_types[data["request_type"]]
    decision = gate_emergency(
        policy,
        rt.id,
        plan,
        data.get("priority") or rt.default_priority or "",
        claimed=bool(data.get("emergency_claimed")),
        rejected_claims=rejected_emergency_claims(db, sender.account_id),
        now=now,
    )
    due = first_response_due(policy, plan, decision.priority, now, emergency=decision.accepted)
    plan_obj = policy.plans[plan]
    number = numbers.new_number()
    details = {DETAIL_FIELDS[k].label: v for k, v in (data.get("details") or {}).items() if v}
    routing = _routing(rt.routing, sender, data)
    try:
        with db.session() as session:
            ticket = Ticket(
                number=number,
                pending_id=filing.pending.id,
                account_id=sender.account_id,
                contact_email=sender.email,
                contact_name=sender.name,
                contact_role=sender.role,
                request_type=rt.id,
                title=rt.title,
                text=str(data.get("text", "")),
                plan=plan,
                plan_snapshot={
                    "name": plan_obj.name,
                    "reaction": plan_obj.reaction,
                    "calendar": plan_obj.calendar,
                    "emergency_calendar": plan_obj.emergency_calendar,
                },
                priority=decision.priority,
                emergency_claimed=bool(data.get("emergency_claimed")),
                emergency_accepted=decision.accepted,
                coverage_status=cov.status,
                coverage_reason=cov.reason,
                estimate=cov.estimate.text if cov.estimate else None,
                due_at=due.at,
                details=details,
                routing=routing["kind"],
                status="open",
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            session.flush()
            note = decision.explanation
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=now,
                    kind="filed",
                    status="open",
                    author="customer",
                    note=note,
                )
            )
            pending = session.get(PendingRequest, filing.pending.id)
            assert pending is not None
            pending.ticket_number = number
            for attachment in (data.get("attachments") or {}).values():
                upload = session.get(Upload, attachment.get("id"))
                if upload is not None:
                    upload.ticket_id = ticket.id
            _notify_filed(session, policy, settings, ticket, due.describe(), routing)
    except IntegrityError:
        # filed at the same moment by a second click: show the ticket that won
        again = prepare(db, policy, pending_id, now=now)
        return again
    filing.ticket = ticket
    filing.created = True
    return filing


def _routing(kind: str, sender: Sender, data: dict[str, Any]) -> dict[str, str]:
    """Requests about a server at the upstream provider go there, with name and id."""
    if kind != "upstream":
        return {"kind": "own"}
    text = str((data.get("details") or {}).get("server", "")).lower()
    for name, server_id, owner in sender.servers:
        if owner == "upstream" and (name.lower() in text or server_id.lower() in text):
            return {"kind": "upstream", "server": name, "server_id": server_id}
    return {"kind": "own"}


def status_link(settings: Settings, number: str) -> str:
    token = tokens.make(settings.secret_key, tokens.TICKET_STATUS, number)
    return f"{settings.base_url}tickets/{number}?token={token}"


def _summary(ticket: Ticket, due_text: str) -> str:
    lines = [
        f"Ticket: {ticket.number}",
        f"Request: {ticket.title}",
        f"Account: {ticket.account_id} ({ticket.contact_name}, {ticket.contact_email})",
        f"Plan: {ticket.plan_snapshot.get('name', ticket.plan)}",
        f"Priority: {ticket.priority}{' (emergency)' if ticket.emergency_accepted else ''}",
        f"Coverage: {ticket.coverage_reason}",
    ]
    if ticket.estimate:
        lines.append(f"Accepted estimate: {ticket.estimate}")
    if ticket.due_at:
        lines.append(f"First response due: {ticket.due_at.isoformat()} ({due_text})")
    lines.append("")
    lines.append(f"Description: {ticket.text}")
    for label, value in ticket.details.items():
        lines.append(f"{label}: {value}")
    return "\n".join(lines)


def _notify_filed(
    session: Any,
    policy: Policy,
    settings: Settings,
    ticket: Ticket,
    due_text: str,
    routing: dict[str, str],
) -> None:
    summary = _summary(ticket, due_text)
    outbox.enqueue_email(
        session,
        ticket.contact_email,
        f"[{ticket.number}] {ticket.title}",
        f"Hello {ticket.contact_name},\n\nYour request is filed.\n\n{summary}\n\n"
        "Follow it, add information or tell us how we did:\n"
        f"{status_link(settings, ticket.number)}\n\n"
        f"{policy.provider.name} support\n",
        purpose="confirmation",
        ticket=ticket.number,
    )
    if settings.helpdesk_email:
        outbox.enqueue_email(
            session,
            settings.helpdesk_email,
            f"[{ticket.number}] {ticket.title}",
            summary,
            purpose="helpdesk",
            ticket=ticket.number,
        )
    if settings.helpdesk_webhook:
        outbox.enqueue_webhook(
            session,
            settings.helpdesk_webhook,
            ticket_payload(ticket, routing),
            purpose="helpdesk",
            ticket=ticket.number,
        )
    if routing["kind"] == "upstream" and settings.upstream_email:
        outbox.enqueue_email(
            session,
            settings.upstream_email,
            f"[{ticket.number}] {ticket.title} — server {routing['server']} "
            f"(id {routing['server_id']})",
            f"Request from our customer about a server you host.\n\n"
            f"Server name: {routing['server']}\nServer id: {routing['server_id']}\n\n{summary}",
            purpose="upstream",
            ticket=ticket.number,
        )


def ticket_payload(ticket: Ticket, routing: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "account": ticket.account_id,
        "contact": {
            "email": ticket.contact_email,
            "name": ticket.contact_name,
            "role": ticket.contact_role,
        },
        "request_type": ticket.request_type,
        "title": ticket.title,
        "text": ticket.text,
        "plan": ticket.plan,
        "priority": ticket.priority,
        "emergency": ticket.emergency_accepted,
        "coverage": {
            "status": ticket.coverage_status,
            "reason": ticket.coverage_reason,
            "estimate": ticket.estimate,
        },
        "first_response_due": ticket.due_at.isoformat() if ticket.due_at else None,
        "details": ticket.details,
        "routing": routing or {"kind": ticket.routing},
        "status": ticket.status,
    }


@dataclass
class TicketView:
    ticket: Ticket
    events: list[TicketEvent]
    attachments: list[Upload]


def load_ticket(db: Database, number: str) -> TicketView | None:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None:
            return None
        events = list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        )
        uploads = list(session.scalars(select(Upload).where(Upload.ticket_id == ticket.id)))
        return TicketView(ticket, events, uploads)


def list_tickets(db: Database, *, status: str | None = None, limit: int = 50) -> list[Ticket]:
    with db.session() as session:
        query = select(Ticket).order_by(Ticket.created_at.desc()).limit(limit)
        if status:
            query = query.where(Ticket.status == status)
        return list(session.scalars(query))


def open_tickets_like(db: Database, account_id: str, request_type: str) -> list[Ticket]:
    """The account's open tickets of the same kind: candidates for 'add to that one'."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Ticket)
                .where(
                    Ticket.account_id == account_id,
                    Ticket.request_type == request_type,
                    Ticket.status.not_in(CLOSED),
                )
                .order_by(Ticket.created_at.desc())
                .limit(5)
            )
        )


def set_status(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    status: str,
    note: str,
    *,
    now: dt.datetime,
) -> Ticket:
    if status not in STATUSES:
        raise ValueError(f"unknown status '{status}' (one of {', '.join(STATUSES)})")
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None:
            raise LookupError(f"no ticket {number}")
        ticket.status = status
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id, at=now, kind="status", status=status, author="staff", note=note
            )
        )
        outbox.enqueue_email(
            session,
            ticket.contact_email,
            f"[{ticket.number}] {STATUS_LABELS[status]}: {ticket.title}",
            f"Hello {ticket.contact_name},\n\nYour request {ticket.number} is now: "
            f"{STATUS_LABELS[status]}.\n\n{note}\n\n"
            f"Details and history: {status_link(settings, ticket.number)}\n\n"
            f"{policy.provider.name} support\n",
            purpose="status",
            ticket=ticket.number,
        )
        return ticket


def add_comment(
    db: Database, settings: Settings, number: str, text: str, *, now: dt.datetime
) -> None:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        if ticket.status in CLOSED:
            raise ValueError("This ticket is closed; please open a new request.")
        session.add(
            TicketEvent(ticket_id=ticket.id, at=now, kind="comment", author="customer", note=text)
        )
        ticket.updated_at = now
        if ticket.status == "waiting_for_customer":
            ticket.status = "open"
        if settings.helpdesk_email:
            outbox.enqueue_email(
                session,
                settings.helpdesk_email,
                f"[{ticket.number}] More information from the customer",
                f"{ticket.contact_name} added to {ticket.number}:\n\n{text}",
                purpose="comment",
                ticket=ticket.number,
            )
        if settings.helpdesk_webhook:
            outbox.enqueue_webhook(
                session,
                settings.helpdesk_webhook,
                {"event": "comment", "number": ticket.number, "text": text},
                purpose="comment",
                ticket=ticket.number,
            )


def add_feedback(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    text: str,
    *,
    complaint: bool,
    now: dt.datetime,
) -> None:
    """Feedback or a complaint about a reply, routed to the supervisor address."""
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        kind = "complaint" if complaint else "feedback"
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind="feedback",
                author="customer",
                note=f"{kind}: {text}",
            )
        )
        to = policy.provider.supervisor_email or settings.helpdesk_email
        if to:
            outbox.enqueue_email(
                session,
                to,
                f"[{ticket.number}] {kind.capitalize()} from {ticket.contact_name}",
                f"{kind.capitalize()} about ticket {ticket.number} ({ticket.title}) from "
                f"{ticket.contact_name} <{ticket.contact_email}>, "
                f"account {ticket.account_id}:\n\n{text}",
                purpose=kind,
                ticket=ticket.number,
            )


def audit_entries(db: Database, limit: int = 50) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


__all__ = ["plan_for_ticket"]
