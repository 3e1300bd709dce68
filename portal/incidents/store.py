"""Incidents, their public updates and "tell me when it's fixed" subscriptions.

Posting a maintenance window schedules its mail to the affected accounts' contacts
(every contact of an account with a named server, or of every account when it names
none) as notices due at once; resolving an incident schedules a mail to each
subscriber. Both go through ``portal.notices`` (a unique key each), so each is mailed
exactly once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal.db.engine import Database
from portal.db.models import (
    Contact,
    Incident,
    IncidentSubscription,
    IncidentUpdate,
    Notice,
    Server,
)
from portal.directory.importer import find_account
from portal.incidents.matching import (
    KINDS,
    OPEN_STATUSES,
    STATUS_LABELS,
    STATUSES,
    IncidentFacts,
    Match,
    RequestFacts,
    is_open,
    is_planned,
    matching,
    request_type_words,
)
from portal.ratelimit import RateLimiter

TITLE_MAX = 200
TEXT_MAX = 4000
RECENT = dt.timedelta(days=7)  # resolved incidents stay on /status this long


class IncidentError(ValueError):
    """What staff asked for cannot be done; the message says what to fix."""


@dataclass(frozen=True)
class UpdateView:
    at: dt.datetime
    status: str
    status_label: str
    text: str


@dataclass(frozen=True)
class IncidentView:
    facts: IncidentFacts
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    updates: tuple[UpdateView, ...]
    subscribers: int = 0

    @property
    def id(self) -> int:
        return self.facts.id

    @property
    def title(self) -> str:
        return self.facts.title

    @property
    def status(self) -> str:
        return self.facts.status

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.facts.status, self.facts.status)

    @property
    def latest(self) -> UpdateView | None:
        return self.updates[0] if self.updates else None


def facts_of(row: Incident) -> IncidentFacts:
    return IncidentFacts(
        id=row.id,
        title=row.title,
        status=row.status,
        kind=row.kind,
        services=tuple(row.services or ()),
        servers=tuple(row.servers or ()),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _view(session: Session, row: Incident) -> IncidentView:
    updates = session.scalars(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == row.id)
        .order_by(IncidentUpdate.at.desc(), IncidentUpdate.id.desc())
    )
    subscribers = session.scalar(
        select(func.count())
        .select_from(IncidentSubscription)
        .where(IncidentSubscription.incident_id == row.id)
    )
    return IncidentView(
        facts=facts_of(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        updates=tuple(
            UpdateView(u.at, u.status, STATUS_LABELS.get(u.status, u.status), u.text)
            for u in updates
        ),
        subscribers=int(subscribers or 0),
    )


def schedule(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    account_id: str,
    incident_id: int,
    now: dt.datetime,
) -> bool:
    """A notice due now (``portal.notices`` sends it), once per key: False when it
    exists. (The notices package queues mail through the tickets' outbox, which files
    incidents' matches: so this package writes the row itself.)"""
    if session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                Notice(
                    key=key[:160],
                    kind=kind,
                    due_at=now,
                    state="scheduled",
                    recipient=recipient,
                    account_id=account_id,
                    incident_id=incident_id,
                    data={},
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def _clean(text: str, limit: int, what: str) -> str:
    value = text.strip()
    if len(value) > limit:
        raise IncidentError(f"The {what} is longer than {limit} characters; shorten it.")
    return value


def add(
    db: Database,
    *,
    title: str,
    kind: str = "incident",
    status: str = "investigating",
    services: tuple[str, ...] = (),
    servers: tuple[str, ...] = (),
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    text: str = "",
    author: str,
    now: dt.datetime,
) -> IncidentView:
    """Post an incident (or a maintenance window) with its first public update."""
    title = _clean(title, TITLE_MAX, "title")
    text = _clean(text, TEXT_MAX, "update")
    if not title:
        raise IncidentError("Give the incident a title customers understand.")
    if kind not in KINDS:
        raise IncidentError(f"The kind must be one of: {', '.join(KINDS)}.")
    if status not in OPEN_STATUSES:
        raise IncidentError(f"A new incident's status is one of: {', '.join(OPEN_STATUSES)}.")
    if not services and not servers:
        raise IncidentError("Name the affected services or servers (or both).")
    if kind == "maintenance" and (starts_at is None or ends_at is None):
        raise IncidentError("A maintenance window needs its start and its end.")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise IncidentError("The end must be after the start.")
    with db.session() as session:
        row = Incident(
            kind=kind,
            title=title,
            status=status,
            services=list(services),
            servers=list(servers),
            starts_at=starts_at,
            ends_at=ends_at,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        session.add(
            IncidentUpdate(incident_id=row.id, at=now, status=status, text=text, author=author)
        )
        if kind == "maintenance":
            _announce_maintenance(session, row, now=now)
        session.flush()
        return _view(session, row)


def affected_contacts(session: Session, row: Incident) -> list[tuple[str, str]]:
    """(account id, e-mail) of every contact of the accounts an incident affects: those
    with a server it names (by name or id), or every account when it names none."""
    query = select(Contact.account_id, Contact.email).order_by(Contact.account_id, Contact.id)
    names = [s.casefold() for s in row.servers or ()]
    if names:
        accounts = select(Server.account_id).where(
            or_(func.lower(Server.name).in_(names), func.lower(Server.server_id).in_(names))
        )
        query = query.where(Contact.account_id.in_(accounts))
    return [(str(a), str(e)) for a, e in session.execute(query)]


def _announce_maintenance(session: Session, row: Incident, *, now: dt.datetime) -> int:
    count = 0
    for account_id, email in affected_contacts(session, row):
        if schedule(
            session,
            key=f"maintenance:{row.id}:{email}",
            kind="maintenance",
            recipient=email,
            account_id=account_id,
            incident_id=row.id,
            now=now,
        ):
            count += 1
    return count


def _row(session: Session, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise LookupError(f"there is no incident {incident_id}")
    return row


def update(
    db: Database,
    incident_id: int,
    *,
    text: str,
    status: str | None = None,
    author: str,
    now: dt.datetime,
) -> IncidentView:
    """A public update; a status of ``resolved`` resolves it (see :func:`resolve`)."""
    if status == "resolved":
        return resolve(db, incident_id, text=text, author=author, now=now)
    text = _clean(text, TEXT_MAX, "update")
    if status is not None and status not in OPEN_STATUSES:
        raise IncidentError(f"The status is one of: {', '.join(STATUSES)}.")
    if not text and status is None:
        raise IncidentError("Write what changed, or choose a new status.")
    with db.session() as session:
        row = _row(session, incident_id)
        if row.status == "resolved":
            raise IncidentError(f"Incident {incident_id} is resolved; post a new one.")
        row.status = status or row.status
        row.updated_at = now
        session.add(
            IncidentUpdate(incident_id=row.id, at=now, status=row.status, text=text, author=author)
        )
        session.flush()
        return _view(session, row)


def resolve(
    db: Database, incident_id: int, *, text: str = "", author: str, now: dt.datetime
) -> IncidentView:
    """Resolve it; everyone who asked to be told is mailed once (``incident_resolved``)."""
    text = _clean(text, TEXT_MAX, "update")
    with db.session() as session:
        row = _row(session, incident_id)
        if row.status == "resolved":
            raise IncidentError(f"Incident {incident_id} is already resolved.")
        row.status, row.updated_at, row.resolved_at = "resolved", now, now
        session.add(
            IncidentUpdate(incident_id=row.id, at=now, status="resolved", text=text, author=author)
        )
        subscribers = session.scalars(
            select(IncidentSubscription).where(IncidentSubscription.incident_id == row.id)
        )
        for sub in list(subscribers):
            schedule(
                session,
                key=f"resolved:{row.id}:{sub.email}",
                kind="incident_resolved",
                recipient=sub.email,
                account_id=sub.account_id,
                incident_id=row.id,
                now=now,
            )
        session.flush()
        return _view(session, row)


def get(db: Database, incident_id: int) -> IncidentView | None:
    with db.session() as session:
        row = session.get(Incident, incident_id)
        return _view(session, row) if row is not None else None


def listing(db: Database, *, include_resolved: bool = True, limit: int = 100) -> list[IncidentView]:
    """Newest first."""
    with db.session() as session:
        query = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
        if not include_resolved:
            query = query.where(Incident.status != "resolved")
        return [_view(session, row) for row in session.scalars(query.limit(limit))]


@dataclass(frozen=True)
class StatusBoard:
    """What /status shows."""

    open: list[IncidentView]
    planned: list[IncidentView]
    recent: list[IncidentView]  # resolved within RECENT


def board(db: Database, *, now: dt.datetime) -> StatusBoard:
    with db.session() as session:
        unresolved = session.scalars(
            select(Incident)
            .where(Incident.status != "resolved")
            .order_by(Incident.created_at.desc(), Incident.id.desc())
        ).all()
        resolved = session.scalars(
            select(Incident)
            .where(Incident.status == "resolved", Incident.resolved_at >= now - RECENT)
            .order_by(Incident.resolved_at.desc())
        ).all()
        open_now = [_view(session, r) for r in unresolved if is_open(facts_of(r), now)]
        planned = [_view(session, r) for r in unresolved if is_planned(facts_of(r), now)]
        planned.sort(key=lambda v: v.facts.starts_at or now)
        return StatusBoard(open_now, planned, [_view(session, r) for r in resolved])


def open_facts(db: Database, *, now: dt.datetime) -> list[IncidentFacts]:
    with db.session() as session:
        rows = session.scalars(
            select(Incident)
            .where(Incident.status != "resolved")
            .order_by(Incident.created_at.desc(), Incident.id.desc())
        )
        return [f for f in (facts_of(r) for r in rows) if is_open(f, now)]


def request_facts(
    policy: Policy, text: str, *, servers: tuple[str, ...] = (), request_type: str = ""
) -> RequestFacts:
    rt = policy.request_types.get(request_type) if request_type else None
    words = request_type_words(rt.id, rt.title, rt.category, rt.keywords) if rt else ()
    return RequestFacts(text=text, servers=servers, request_type_words=words)


def find_matching(db: Database, request: RequestFacts, *, now: dt.datetime) -> list[Match]:
    return matching(open_facts(db, now=now), request, now)


class Throttled(Exception):
    """Too many "tell me when it's fixed" attempts from this client or for this address
    (``PORTAL_RATE_LIMITS``): nothing was looked up or recorded."""


SUBSCRIBE_SCOPE = "incident-subscribe"


def subscribe(
    db: Database,
    incident_id: int,
    *,
    account: str,
    email: str,
    now: dt.datetime,
    limiter: RateLimiter | None = None,
    client: str = "",
) -> bool:
    """Record "tell me when it's fixed" for a listed contact of the account, of an
    open incident. True when recorded now; the caller answers the same either way.

    With a ``limiter`` (the page's), every attempt counts per address and per
    ``client`` first, before anything is looked up, listed or not, so being limited
    tells nothing about who is listed; over the limit it raises :class:`Throttled`."""
    email = email.strip().lower()[:254]
    if limiter is not None:
        with db.session() as session:
            counted = limiter.acquire(
                session, scope=SUBSCRIBE_SCOPE, address=email or None, client=client, now=now
            )
        if not counted:
            raise Throttled(email)
    with db.session() as session:
        row = session.get(Incident, incident_id)
        found = find_account(session, account.strip()) if account.strip() else None
        if row is None or row.status == "resolved" or found is None:
            return False
        listed = session.scalar(
            select(Contact.id).where(Contact.account_id == found.id, Contact.email == email)
        )
        if listed is None:
            return False
        exists = session.scalar(
            select(IncidentSubscription.id).where(
                IncidentSubscription.incident_id == incident_id,
                IncidentSubscription.email == email,
            )
        )
        if exists is not None:
            return False
        try:
            with session.begin_nested():  # the same address twice at once: one row
                session.add(
                    IncidentSubscription(
                        incident_id=incident_id, account_id=found.id, email=email, created_at=now
                    )
                )
        except IntegrityError:
            return False
        return True
