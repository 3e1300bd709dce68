"""Filing: from a reviewed request to a ticket, only for listed contacts, exactly once.

``submit`` answers the same way whether or not the sender is a listed contact; only a
listed contact gets a link. ``file_pending`` turns a pending request into a ticket
once; a second call returns the ticket already filed.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS
from kb.policy.engine import (
    Coverage,
    Due,
    EmergencyDecision,
    Facts,
    coverage,
    first_response_due,
    gate_emergency,
    plan_in_force,
)
from kb.policy.model import NO_PLAN, RequestType
from portal import inputs, notify, ratelimit, urls
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, PendingRequest, Ticket, TicketEvent, Upload
from portal.directory.importer import Sender, find_sender
from portal.directory.servers import (
    DirectoryServer,
    Resolution,
    directory_servers,
    read_pick,
    resolve_server,
    server_details,
)
from portal.helpdesk.choose import connectors_for
from portal.incidents import store as incidents
from portal.incidents.matching import Match
from portal.tickets import links, numbers, outbox, scheduled, tokens, waivers
from portal.tickets.queries import rejected_emergency_claims, ticket_payload
from portal.wizard.flow import Draft, acceptance_key, multiline_field

log = logging.getLogger("portal.tickets")

NO_PLAN_NAME = "No plan (paid work)"  # a ticket filed after the account's plan ended


GENERIC_ANSWER = (
    "If this address is listed as a contact of the account, we have sent it a link to "
    "file the request. The link works once and expires in {minutes} minutes."
)


@dataclass
class SubmitResult:
    message: str
    throttled: bool = False
    # field -> what is wrong with its characters; the same for every sender
    errors: dict[str, str] = field(default_factory=dict)


THROTTLED = (
    "Too many requests were sent from here or for this address recently. "
    "Please wait a while and try again; nothing you typed is lost."
)

REFUSED = "Some fields contain characters that we cannot accept; nothing was sent."


def refused_characters(data: dict[str, Any]) -> dict[str, str]:
    """Path -> what is wrong, for every string in a request (keys too, at any depth)
    with characters no field accepts (``portal.inputs``). Multi-line: the description,
    textarea details and the accepted estimate (the policy's own text)."""
    return inputs.check_json(data, multiline=lambda p: p == "accepted" or multiline_field(p))


def submit(
    db: Database,
    policy: Policy,
    settings: Settings,
    data: dict[str, Any],
    *,
    client: str,
    now: dt.datetime,
    limiter: ratelimit.RateLimiter | None = None,
) -> SubmitResult:
    """Accept a reviewed request for verification. Never says whether the sender is
    listed: every sender gets the same checks, the same work up to sending (the
    verification mail is rendered and checked for everyone; it is queued only for a
    listed contact) and the same answer, also when the path of one kind of sender
    fails. Every attempt counts toward the rate limits, refused ones too."""
    limiter = limiter or ratelimit.limiter_for(settings)
    answer = GENERIC_ANSWER.format(minutes=settings.verify_max_age // 60)
    errors = refused_characters(data)
    email = data.get("email") if isinstance(data.get("email"), str) else ""
    email = str(email).strip().lower()
    account_id = str(data.get("account") or "") if isinstance(data.get("account"), str) else ""
    rt = policy.request_types.get(str(data.get("request_type")))
    if not errors and rt is None:
        errors["request_type"] = "Choose the kind of request that fits best."
    usable = not errors.keys() & {"email", "account"}
    address = email if usable and email and len(email) <= 254 else None
    sender: Sender | None = None
    pending_id = secrets.token_urlsafe(32)
    mail: notify.Message | None = None
    if not errors and rt is not None:
        try:
            sender = find_sender(db, account_id, email)
        except OperationalError:  # the database is down: 503, the same for everyone
            raise
        except Exception:  # e.g. a directory row that cannot be read: answer as for anyone
            log.exception("submit: the directory lookup failed")
        mail = _verification_mail(policy, settings, rt, data, sender, pending_id)
    with db.session() as session:
        if not limiter.acquire(session, scope="filing", address=address, client=client, now=now):
            return SubmitResult(THROTTLED, throttled=True)
        if errors or rt is None:
            session.add(
                AuditEntry(
                    at=now,
                    kind="refused_input",
                    account_id=account_id if usable and len(account_id) <= 40 else "",
                    email=address or "",
                    detail="characters refused in: " + ", ".join(sorted(errors)),
                )
            )
            return SubmitResult(REFUSED, errors=errors)
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account_id,
                email=email,
                data={k: v for k, v in data.items() if not str(k).startswith("_")},
                client=ratelimit.client_key(settings.secret_key, client),
                listed=sender is not None,
                created_at=now,
            )
        )
        session.flush()  # the work every sender shares: a failure here is everyone's
        try:
            with session.begin_nested():
                _after_submit(session, policy, rt, data, sender, mail, now=now)
        except Exception:  # the answer must not tell which path failed
            log.exception("submit: the %s path failed", "listed" if sender else "unlisted")
    return SubmitResult(answer)


def _verification_mail(
    policy: Policy,
    settings: Settings,
    rt: RequestType,
    data: dict[str, Any],
    sender: Sender | None,
    pending_id: str,
) -> notify.Message:
    """The filing-link mail, rendered for every sender (only a listed contact's is
    sent); refused like any input when it cannot be sent."""
    token = tokens.make(settings.secret_key, tokens.FILE_REQUEST, pending_id)
    link = urls.confirm_link(settings.base_url, token)
    return notify.verify(
        policy,
        to=str(data.get("email") or "").strip().lower(),
        name=sender.name if sender else None,
        account=str(data.get("account")),
        title=rt.title,
        text=str(data.get("text", "")),
        link=link,
        minutes=settings.verify_max_age // 60,
    )


def _after_submit(
    session: Session,
    policy: Policy,
    rt: RequestType,
    data: dict[str, Any],
    sender: Sender | None,
    mail: notify.Message | None,
    *,
    now: dt.datetime,
) -> None:
    """What differs between senders: an audit entry for an unlisted one, a refusal
    for a role that may not ask, the filing link for everyone else."""
    account_id, email = str(data["account"]), str(data["email"]).strip().lower()
    if sender is None:
        session.add(
            AuditEntry(
                at=now,
                kind="unlisted_sender",
                account_id=account_id,
                email=email,
                detail=f"request type {rt.id}; nothing filed or sent",
            )
        )
        return
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
        outbox.enqueue(
            session,
            notify.role_refused(
                policy, to=email, name=sender.name, account=account_id, title=rt.title, roles=roles
            ),
        )
        return
    assert mail is not None
    found = inputs.problem(mail.subject) or inputs.problem(mail.body, multiline=True)
    if found:  # e.g. a directory name that cannot be mailed
        raise ValueError(f"the verification mail cannot be sent: {found}")
    outbox.enqueue(session, mail)


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
    # what filing does with the emergency mark and when the first response is due: the
    # filing link's page shows these, and filing uses exactly these (see ``prepare``)
    emergency: EmergencyDecision | None = None
    due: Due | None = None
    status_token: str | None = None  # the status token issued when this call filed it
    # the server the request is about (None: it names none); when it is not found and
    # the account has servers, filing waits for the sender to pick one (``needs_server``)
    server: Resolution | None = None
    needs_server: bool = False
    # the open incident an emergency claim is attached to (portal.incidents): the
    # ticket records it, and the claim never counts toward the abuse rule
    incident: Match | None = None

    @property
    def draft(self) -> Draft:
        """The reviewed request as the customer sent it."""
        return Draft.from_json(self.pending.data)


def prepare(
    db: Database,
    policy: Policy,
    pending_id: str,
    *,
    now: dt.datetime,
    server_pick: str | None = None,
) -> Filing | None:
    """Recheck a pending request against the directory and the current policy.
    ``server_pick`` is the server picker's value (``templates/tickets/_server_picker.html``,
    read by ``portal.directory.servers.read_pick``), when the sender has picked one."""
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
    draft = Draft.from_json(pending.data)
    if sender.plan not in policy.plans or draft.request_type not in policy.request_types:
        return Filing(
            pending, sender, problem="The support policy has changed; please start again."
        )
    # the plan in force today; None once a plan has ended into "no plan" (the policy's
    # when_ended): its requests are then paid work, priced on request unless published
    plan = plan_in_force(policy, sender.plan, sender.plan_ends, now)
    cov = coverage(
        policy,
        draft.request_type,
        Facts(plan=plan, version=sender.product_version or draft.version, role=sender.role),
    )
    filing = Filing(pending, sender, plan=plan, coverage=cov)
    if not cov.can_continue:
        filing.problem = cov.reason
        return filing
    if cov.needs_acceptance and draft.accepted != acceptance_key(cov):
        filing.needs_acceptance = True
    filing.server, filing.needs_server = server_choice(sender, draft, server_pick)
    if draft.emergency_claimed:
        filing.incident = matching_incident(db, policy, draft, filing.server, now=now)
    filing.emergency = emergency_decision(
        db,
        policy,
        sender,
        plan,
        draft,
        now=now,
        incident=filing.incident.incident.title if filing.incident else "",
    )
    filing.due = first_response_due(
        policy, plan, filing.emergency.priority, now, emergency=filing.emergency.accepted
    )
    return filing


def emergency_decision(
    db: Database,
    policy: Policy,
    sender: Sender,
    plan: str | None,
    draft: Draft,
    *,
    now: dt.datetime,
    incident: str = "",
) -> EmergencyDecision:
    """The one decision on a pending request's emergency mark, from the directory's plan
    and the account's claims found false. The filing link's page and filing both get it
    from ``prepare``, so what the page shows is what filing does. ``incident``: the
    title of the open incident the claim matches (``matching_incident``)."""
    return gate_emergency(
        policy,
        draft.request_type,
        plan,
        draft.priority,
        claimed=draft.emergency_claimed,
        rejected_claims=rejected_emergency_claims(db, sender.account_id),
        now=now,
        incident=incident,
    )


def matching_incident(
    db: Database,
    policy: Policy,
    draft: Draft,
    server: Resolution | None,
    *,
    now: dt.datetime,
) -> Match | None:
    """The newest open incident matching the request's words, server and type."""
    servers: tuple[str, ...] = ()
    if server is not None and server.server is not None:
        servers = (server.server.name, server.server.server_id)
    facts = incidents.request_facts(
        policy,
        " ".join([draft.text, *draft.details.values()]),
        servers=servers,
        request_type=draft.request_type,
    )
    found = incidents.find_matching(db, facts, now=now)
    return found[0] if found else None


def file_pending(
    db: Database,
    policy: Policy,
    settings: Settings,
    pending_id: str,
    *,
    accepted_now: bool,
    now: dt.datetime,
    server_pick: str | None = None,
) -> Filing | None:
    """File the pending request as a ticket, exactly once; a request about a server
    the directory cannot tell waits for ``server_pick`` (see ``prepare``)."""
    filing = prepare(db, policy, pending_id, now=now, server_pick=server_pick)
    if filing is None or filing.ticket is not None or filing.problem:
        return filing
    if filing.needs_acceptance and not accepted_now:
        return filing
    if filing.needs_server:
        return filing
    assert filing.sender is not None and filing.coverage is not None
    assert filing.emergency is not None and filing.due is not None
    sender, plan, cov = filing.sender, filing.plan, filing.coverage
    draft = filing.draft
    rt = policy.request_types[draft.request_type]
    # the same decision the filing link's page showed: prepare() made it, at this moment
    decision, due = filing.emergency, filing.due
    plan_obj = policy.plans[plan] if plan is not None else None
    number = numbers.new_number()
    details = {DETAIL_FIELDS[k].label: v for k, v in draft.details.items() if v}
    server = filing.server.server if filing.server else None
    if server is not None:
        details |= server_details(server)  # the server found in the directory
    routing = _routing(server, rt.routing, policy.provider.supervisor_email)
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
                text=draft.text,
                plan=plan or NO_PLAN,
                plan_snapshot={
                    "name": plan_obj.name if plan_obj else NO_PLAN_NAME,
                    "reaction": plan_obj.reaction if plan_obj else {},
                    "calendar": plan_obj.calendar if plan_obj else None,
                    "emergency_calendar": plan_obj.emergency_calendar if plan_obj else None,
                    # the policy's words for the first response, as filed
                    "first_response_text": due.describe(),
                    "tz": draft.tz or "",
                    # when support next opened after filing (mails of a plan with no
                    # promised time say it)
                    "support_opens_at": due.opens_at.isoformat() if due.opens_at else None,
                },
                priority=decision.priority,
                emergency_claimed=draft.emergency_claimed,
                emergency_accepted=decision.accepted,
                emergency_outcome=decision.outcome,
                coverage_status=cov.status,
                coverage_reason=cov.reason,
                estimate=cov.estimate.text if cov.estimate else None,
                # the waivers claimed in the wizard that the coverage at filing still
                # offers: a claim, staff decide (portal.tickets.waivers)
                waivers_claimed=waivers.claimed(cov, draft.waivers),
                due_at=due.at,
                details=details,
                routing=routing["kind"],
                incident_id=filing.incident.incident.id if filing.incident else None,
                status="open",
                created_at=now,
                updated_at=now,
                status_link_version=0,
                status_link_issued_at=now,  # the ticket's one status link, mailed below
            )
            session.add(ticket)
            session.flush()
            # what the type schedules by itself (``schedules``), e.g. the server's
            # cancellation: in this transaction, told in the history and the mail
            scheduled_words = scheduled.on_filing(session, policy, rt, ticket, server, now=now)
            note = "\n\n".join(words for words in (decision.explanation, scheduled_words) if words)
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
            if ticket.waivers_claimed:
                session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        at=now,
                        kind="waiver_claimed",
                        status="open",
                        author="customer",
                        note=waivers.claim_note(ticket),
                    )
                )
            pending = session.get(PendingRequest, filing.pending.id)
            assert pending is not None
            pending.ticket_number = number
            for attachment in draft.attachments.values():
                upload = session.get(Upload, attachment.id)
                if upload is not None:
                    upload.ticket_id = ticket.id
            _notify_filed(
                session, db, policy, settings, ticket, due.describe(), routing, scheduled_words
            )
    except IntegrityError:
        # filed at the same moment by a second click: show the ticket that won
        again = prepare(db, policy, pending_id, now=now)
        return again
    filing.ticket = ticket
    filing.created = True
    filing.status_token = links.status_token(settings, ticket)
    return filing


def file_now(
    db: Database,
    policy: Policy,
    settings: Settings,
    data: dict[str, Any],
    *,
    account_id: str,
    email: str,
    client: str,
    now: dt.datetime,
    server_pick: str | None = None,
) -> Filing | None:
    """File a signed-in contact's reviewed request at once (no e-mailed link: signing
    in proved the address). It is recorded as a pending request, as the e-mailed link
    would find it, and filed by ``file_pending``: the same re-check against the
    directory and the policy, the same ticket, events and mails."""
    pending_id = secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account_id,
                email=email,
                data={k: v for k, v in data.items() if not str(k).startswith("_")},
                client=ratelimit.client_key(settings.secret_key, client),
                listed=True,
                created_at=now,
            )
        )
    return file_pending(
        db, policy, settings, pending_id, accepted_now=False, now=now, server_pick=server_pick
    )


def server_choice(
    sender: Sender, draft: Draft, server_pick: str | None
) -> tuple[Resolution | None, bool]:
    """The server a request is about, from the sender's pick or the server the request
    names (the ``server`` detail), and whether filing must wait for a pick: when the
    server is unknown or ambiguous and the account has servers to pick from. None when
    the request names no server, or the sender picked "none of these"."""
    none_of_these, picked = read_pick(server_pick)
    text = draft.details.get("server", "")
    servers = directory_servers(sender.servers)
    if none_of_these or (picked is None and not text.strip()):
        return None, False
    resolution = resolve_server(servers, text, picked)
    return resolution, not resolution.found and bool(servers)


def _routing(
    server: DirectoryServer | None, type_routing: str = "own", supervisor: str = ""
) -> dict[str, str]:
    """Every request about a server goes where the directory says that server is,
    whatever the request type: the upstream provider's servers to the upstream
    provider (``PORTAL_UPSTREAM_EMAIL``, with the name and id), ours to our queue. A
    type routed to the supervisor (a complaint) goes to ``provider.supervisor_email``
    alone, when the policy names one."""
    if type_routing == "supervisor" and supervisor:
        return {"kind": "supervisor", "to": supervisor}
    if server is None:
        return {"kind": "own"}
    kind = "upstream" if server.upstream else "own"
    return {"kind": kind, "server": server.name, "server_id": server.server_id}


def _notify_filed(
    session: Session,
    db: Database,
    policy: Policy,
    settings: Settings,
    ticket: Ticket,
    due_text: str,
    routing: dict[str, str],
    scheduled_words: str = "",
) -> None:
    summary = notify.ticket_summary(ticket, due_text, provider_zone=policy.provider.timezone)
    link = links.status_link(settings, ticket)
    # the customer's copy also says what filing scheduled (``scheduled.on_filing``)
    mine = f"{summary}\n\n{scheduled_words}" if scheduled_words else summary
    outbox.enqueue(session, notify.filed(policy, ticket, summary=mine, link=link))
    if routing["kind"] == "supervisor":
        # the policy sends these to a supervisor directly, not to the support queue
        outbox.enqueue(session, notify.supervisor_filed(routing["to"], ticket, summary=summary))
        return
    # the helpdesk (PORTAL_HELPDESK) and the mail and webhook copies (portal.helpdesk)
    for connector in connectors_for(settings, db, policy):
        connector.queue_filed(
            session, ticket, summary=summary, payload=ticket_payload(ticket, routing)
        )
    if routing["kind"] == "upstream" and settings.upstream_email:
        message = notify.upstream(
            settings.upstream_email,
            ticket,
            server=routing["server"],
            server_id=routing["server_id"],
            summary=summary,
        )
        outbox.enqueue(session, message)
