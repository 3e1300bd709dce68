"""What each notice says, composed when it is sent from what is true then: a notice
whose reason has gone (the ticket is no longer waiting, the plan's end moved, the
incident was removed) is void and sends nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal import notify
from portal.config import Settings
from portal.db.models import (
    Account,
    Incident,
    IncidentUpdate,
    Notice,
    Ticket,
    TicketEvent,
)
from portal.incidents.times import local_time
from portal.tickets.links import link_for_mail

STATUS_PATH = "/status"


def absolute(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def _day(text: str) -> str:
    day = dt.date.fromisoformat(text)
    return f"{day:%a} {day.day} {day:%b %Y}"


def waiting_since(session: Session, ticket: Ticket) -> dt.datetime | None:
    """When the ticket's current wait for the customer began (None: it is not waiting)."""
    if ticket.status != "waiting_for_customer":
        return None
    return (
        session.scalar(
            select(TicketEvent.at)
            .where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.kind == "status",
                TicketEvent.status == "waiting_for_customer",
            )
            .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
            .limit(1)
        )
        or ticket.updated_at
    )


def latest_update(session: Session, incident_id: int) -> str:
    text = session.scalar(
        select(IncidentUpdate.text)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.at.desc(), IncidentUpdate.id.desc())
        .limit(1)
    )
    return str(text or "")


def compose(
    session: Session, policy: Policy, settings: Settings, notice: Notice, now: dt.datetime
) -> notify.Message | None:
    """The notice's message, or None when it no longer applies (void)."""
    provider = policy.provider.name
    data = notice.data or {}
    common = {"provider": provider, "account": notice.account_id}
    request_link = absolute(settings, "/request")
    if not notice.recipient:
        return None
    if notice.kind in ("server_cancellation", "cancellation_warning"):
        if notice.kind == "cancellation_warning":
            parent = session.get(Notice, int(data.get("cancellation", 0)))
            if parent is None or parent.state != "scheduled":
                return None  # the cancellation was discarded or moved
        template = f"notice_{notice.kind}"
        return _message(
            template,
            notice,
            **common,
            server_name=str(data.get("server_name", notice.server_id)),
            server_id=notice.server_id,
            last_day=_day(str(data["last_day"])),
            end_of_billing_period=bool(data.get("end_of_billing_period")),
            words=policy.notices.cancellation_warnings,
            request_link=request_link,
        )
    if notice.kind == "plan_ending":
        account = session.get(Account, notice.account_id)
        if account is None or account.plan_ends is None:
            return None
        if account.plan_ends.isoformat() != data.get("last_day"):
            return None  # the plan's end moved: a new notice is scheduled for that
        plan = policy.plans.get(account.plan)
        return _message(
            "notice_plan_ending",
            notice,
            **common,
            plan=plan.name if plan else account.plan,
            last_day=_day(account.plan_ends.isoformat()),
            plans_link=absolute(settings, "/plans"),
        )
    if notice.kind == "waiting_reminder":
        ticket = session.scalars(
            select(Ticket).where(Ticket.number == notice.ticket_number)
        ).first()
        if ticket is None:
            return None
        since = waiting_since(session, ticket)
        if since is None or since.isoformat() != data.get("since"):
            return None  # answered, closed, or waiting again since another moment
        return _message(
            "notice_waiting_reminder",
            notice,
            provider=provider,
            ticket=ticket,
            since=local_time(policy, since),
            link=link_for_mail(settings, ticket, now),
        )
    if notice.kind in ("maintenance", "incident_resolved"):
        incident = session.get(Incident, notice.incident_id or 0)
        if incident is None:
            return None
        if notice.kind == "maintenance" and incident.status == "resolved":
            return None  # called off or over before the mail went
        return _message(
            f"notice_{notice.kind}",
            notice,
            **common,
            incident=incident,
            starts=local_time(policy, incident.starts_at),
            ends=local_time(policy, incident.ends_at),
            resolved=local_time(policy, incident.resolved_at or now),
            text=latest_update(session, incident.id),
            status_link=absolute(settings, STATUS_PATH),
            request_link=request_link,
        )
    raise ValueError(f"unknown notice kind {notice.kind!r}")


def _message(template: str, notice: Notice, **context: object) -> notify.Message:
    subject, body = notify.render(template, **context)
    return notify.Message(
        to=notice.recipient,
        subject=subject,
        body=body,
        purpose=f"notice-{notice.kind}",
        ticket=notice.ticket_number,
    )
