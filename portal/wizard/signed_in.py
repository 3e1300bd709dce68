"""What the wizard takes from the directory for a signed-in contact (``flow.Known``),
and the account's emergency claims found false (the review's exact decision)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from kb.policy import Policy
from kb.policy.engine import COUNTED_OUTCOMES, plan_in_force
from kb.policy.model import NO_PLAN
from portal import http
from portal.db.engine import Database
from portal.db.models import Contact, Ticket
from portal.directory import customer_sessions
from portal.directory.importer import Sender
from portal.wizard.flow import Known


def known_for(db: Database, policy: Policy, sender: Sender, now: dt.datetime) -> Known:
    """The directory's facts about a signed-in contact: the plan in force today (the
    directory's plan, or what it became when it ended; the ended plan itself when the
    policy says "no plan": NO_PLAN, as filing decides), role, version, the account's
    contacts and servers."""
    plan, ended = sender.plan, None
    if plan in policy.plans:
        plan = plan_in_force(policy, sender.plan, sender.plan_ends, now) or NO_PLAN
        ended = sender.plan if plan != sender.plan else None
    with db.session() as session:
        contacts = tuple(
            (c.name, c.role)
            for c in session.scalars(
                select(Contact).where(Contact.account_id == sender.account_id).order_by(Contact.id)
            )
        )
    return Known(
        account=sender.account_id,
        email=sender.email,
        name=sender.name,
        plan=plan,
        plan_ends=sender.plan_ends,
        role=sender.role,
        version=sender.product_version,
        contacts=contacts,
        servers=sender.servers,
        ended_plan=ended,
    )


async def known(request: Request, policy: Policy) -> Known | None:
    """The signed-in contact's facts for this request (None when not signed in)."""
    if "known" in request.state._state:
        found: Known | None = request.state.known
        return found
    customer = await customer_sessions.current(request)
    result = None
    if customer is not None:
        result = await run_in_threadpool(
            known_for, http.database(request), policy, customer.sender, http.now()
        )
    request.state.known = result
    return result


def rejected_claims(db: Database, account_id: str) -> list[dt.datetime]:
    """When the account's emergency claims found false were made, as filing counts
    them (``portal.tickets.queries.rejected_emergency_claims``; the wizard does not
    import tickets)."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Ticket.created_at).where(
                    Ticket.account_id == account_id,
                    Ticket.emergency_outcome.in_(COUNTED_OUTCOMES),
                )
            )
        )
