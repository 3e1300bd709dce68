"""What the staff pages read: the queue's rows and one ticket with everything its
page shows (account, plan and precedence, contact and role, the customer's zone and
local time, the server, coverage, estimate, waivers, due time and time left, the
thread, who may be assigned, which tickets it can be merged into)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import load_only

from kb.policy import Policy
from kb.policy.engine import precedence_text
from portal.db.engine import Database
from portal.db.models import Account, Server, StaffUser, Ticket, TicketEvent
from portal.directory.servers import resolve_server, ticket_server
from portal.staff import queue
from portal.tickets.history import first_answer
from portal.tickets.queries import TicketView, load_ticket
from portal.tickets.states import CLOSED
from portal.timefmt import human_time, ticket_zone

CLOSED_DAYS = 30  # closed tickets stay in the queue's "all" and closed views this long


def _last_events(session: Any, ids: list[int]) -> dict[tuple[int, str], int]:
    """(ticket id, kind) -> the id of the latest reply, comment or status change made
    by staff (a status change mailed to the customer is a first response too, as for
    the staff's due alerts and the customer's pages: ``portal.tickets.history``)."""
    if not ids:
        return {}
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.kind, func.max(TicketEvent.id))
        .where(
            TicketEvent.ticket_id.in_(ids),
            or_(
                TicketEvent.kind.in_(("reply", "comment")),
                and_(TicketEvent.kind == "status", TicketEvent.author == "staff"),
            ),
        )
        .group_by(TicketEvent.ticket_id, TicketEvent.kind)
    )
    return {(t, k): int(i) for t, k, i in rows}


def _last_notes(session: Any, ids: list[int]) -> dict[int, tuple[int, str]]:
    """ticket id -> (the id, the author) of its newest internal note: staff's, or the
    upstream provider's answer by mail (``portal.mailin.internal``)."""
    if not ids:
        return {}
    newest = (
        select(func.max(TicketEvent.id))
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind == "note")
        .group_by(TicketEvent.ticket_id)
    )
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.id, TicketEvent.author).where(
            TicketEvent.id.in_(newest)
        )
    )
    return {t: (int(i), str(a)) for t, i, a in rows}


def row_of(
    policy: Policy,
    ticket: Ticket,
    *,
    last: dict[tuple[int, str], int],
    now: dt.datetime,
    notes: dict[int, tuple[int, str]] | None = None,
) -> queue.Row:
    plan = policy.plans.get(ticket.plan)
    reply = last.get((ticket.id, "reply"))
    note_id, note_author = (notes or {}).get(ticket.id, (None, ""))
    comment = last.get((ticket.id, "comment"))
    rank = policy.priority_rank(ticket.priority) if ticket.priority in policy.priorities else 99
    answered = reply is not None or last.get((ticket.id, "status")) is not None
    # the time left matters (to the order and the page) only until the first answer
    counted = not answered and ticket.status not in CLOSED
    snapshot = ticket.plan_snapshot or {}
    calendar = (
        queue.calendar_of(policy, ticket.plan, snapshot, ticket.emergency_accepted)
        if counted
        else None
    )
    return queue.Row(
        number=ticket.number,
        title=ticket.title,
        account=ticket.account_id,
        plan=ticket.plan,
        status=ticket.status,
        priority=ticket.priority,
        request_type=ticket.request_type,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        due_at=ticket.due_at,
        hours_left=queue.support_hours_left(calendar, ticket.due_at, now) if counted else None,
        precedence=plan.precedence if plan else None,
        priority_rank=rank,
        emergency_claimed=ticket.emergency_claimed,
        emergency_accepted=ticket.emergency_accepted,
        answered=answered,
        customer_replied=comment is not None and (reply is None or comment > reply),
        noted=note_author if note_id is not None and (reply is None or note_id > reply) else "",
        assigned_to=ticket.assigned_to,
        upstream=ticket.routing == "upstream",
    )


_ROW_COLUMNS = (
    Ticket.id,
    Ticket.number,
    Ticket.title,
    Ticket.account_id,
    Ticket.plan,
    Ticket.plan_snapshot,
    Ticket.status,
    Ticket.priority,
    Ticket.request_type,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.due_at,
    Ticket.emergency_claimed,
    Ticket.emergency_accepted,
    Ticket.assigned_to,
    Ticket.routing,
)


def queue_rows(db: Database, policy: Policy, *, now: dt.datetime) -> list[queue.Row]:
    """Every ticket not closed, and those closed in the last CLOSED_DAYS days."""
    since = now - dt.timedelta(days=CLOSED_DAYS)
    with db.session() as session:
        tickets = list(
            session.scalars(
                select(Ticket)
                .options(load_only(*_ROW_COLUMNS))  # not the texts and details: not shown
                .where(or_(Ticket.status.not_in(CLOSED), Ticket.updated_at >= since))
            )
        )
        last = _last_events(session, [t.id for t in tickets])
        notes = _last_notes(session, [t.id for t in tickets])
    return [row_of(policy, t, last=last, now=now, notes=notes) for t in tickets]


def staff_names(db: Database) -> dict[int, str]:
    with db.session() as session:
        return {s.id: s.name for s in session.scalars(select(StaffUser))}


def active_staff(db: Database) -> list[StaffUser]:
    with db.session() as session:
        return list(
            session.scalars(select(StaffUser).where(StaffUser.active).order_by(StaffUser.name))
        )


@dataclass
class TicketPage:
    view: TicketView
    account_name: str
    plan_name: str
    precedence: str  # the plan's place in the queue, as the policy says it ("" if not)
    role_name: str
    zone: str
    local_now: str  # the customer's local time now
    server: tuple[str, str, str] | None  # name, id, owner
    servers: list[tuple[str, str, str]]  # the account's servers
    due_text: str  # "Thu 3 Dec, 14:00 (Europe/Berlin)" or the policy's words
    time_left: str  # in support hours
    overdue: bool
    answered: bool
    assignee: str
    waivers_claimed: list[dict[str, str]] = field(default_factory=list)
    waiver_confirmed: dict[str, str] | None = None
    merge_targets: list[Ticket] = field(default_factory=list)
    staff: list[StaffUser] = field(default_factory=list)
    authors: dict[int, str] = field(default_factory=dict)  # staff id -> name

    @property
    def ticket(self) -> Ticket:
        return self.view.ticket


def ticket_page(
    db: Database, policy: Policy, number: str, *, now: dt.datetime
) -> TicketPage | None:
    view = load_ticket(db, number)
    if view is None:
        return None
    t = view.ticket
    with db.session() as session:
        account = session.get(Account, t.account_id)
        servers = [
            (s.name, s.server_id, s.owner)
            for s in session.scalars(select(Server).where(Server.account_id == t.account_id))
        ]
        targets = list(
            session.scalars(
                select(Ticket)
                .where(
                    Ticket.account_id == t.account_id,
                    Ticket.id != t.id,
                    Ticket.status.not_in(CLOSED),
                )
                .order_by(Ticket.created_at.desc())
                .limit(20)
            )
        )
    names = staff_names(db)
    zone = ticket_zone(t.plan_snapshot, policy.provider.timezone)
    server: tuple[str, str, str] | None = None
    recorded = ticket_server(t.details or {})
    if recorded is not None:
        owner = next((o for n, i, o in servers if i == recorded[1]), "")
        server = (recorded[0], recorded[1], owner)
    else:
        text = " ".join(str(v) for v in (t.details or {}).values())
        found = resolve_server(servers, text)
        if found.server is not None:
            server = (found.server.name, found.server.server_id, found.server.owner)
    plan = policy.plans.get(t.plan)
    role = policy.contacts.role(t.contact_role)
    calendar = queue.calendar_of(policy, t.plan, t.plan_snapshot or {}, t.emergency_accepted)
    hours = queue.support_hours_left(calendar, t.due_at, now)
    answered = first_answer(view.events) is not None
    if t.due_at is not None:
        due_text = human_time(t.due_at, zone, now=now)
    else:
        due_text = str((t.plan_snapshot or {}).get("first_response_text") or "No due time.")
    return TicketPage(
        view=view,
        account_name=account.name if account else "(not in the directory)",
        plan_name=plan.name if plan else str((t.plan_snapshot or {}).get("name") or t.plan),
        precedence=precedence_text(policy, t.plan) if plan else "",
        role_name=role.name if role else t.contact_role,
        zone=zone,
        local_now=human_time(now, zone, now=now),
        server=server,
        servers=servers,
        due_text=due_text,
        time_left="answered" if answered else queue.describe_hours(hours),
        overdue=not answered
        and t.status not in CLOSED
        and t.due_at is not None
        and t.due_at <= now,
        answered=answered,
        assignee=names.get(t.assigned_to, "") if t.assigned_to else "",
        waivers_claimed=list(getattr(t, "waivers_claimed", None) or []),
        waiver_confirmed=getattr(t, "waiver_confirmed", None),
        merge_targets=targets,
        staff=active_staff(db),
        authors=names,
    )
