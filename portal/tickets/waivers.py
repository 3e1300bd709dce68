"""Waivers on tickets (#12): the customer claims one when filing paid work ("no charge if
the cause is on our side"); the claim is not a decision, and the ticket stays paid (or a
request for a quote) until staff confirm a waiver with :func:`confirm_waiver` — the
``portal tickets waive`` verb and the staff console call it. Confirming makes the ticket
included with no estimate, records a ``waiver_confirmed`` event and mails the customer,
in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from kb.policy import Policy
from kb.policy.engine import Coverage, waivers_for
from portal import notify
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket, TicketEvent
from portal.tickets import outbox
from portal.tickets.links import link_for_mail


class WaiverError(ValueError):
    """A waiver that cannot be confirmed, with what to do instead."""


def claimed(cov: Coverage, ids: Sequence[str]) -> list[dict[str, str]]:
    """The claimed waivers (``{"id", "text"}``) that the coverage offers: only paid work
    has waivers, and an id the policy no longer has is dropped."""
    if cov.status != "paid":
        return []
    wanted = set(ids)
    return [w.as_json() for w in cov.waivers if w.id in wanted]


def treated_as(ticket: Ticket) -> str:
    """What an unconfirmed claim leaves the request: paid work, or a quote first."""
    return "paid work" if ticket.estimate else "a request for a quote"


def claim_note(ticket: Ticket) -> str:
    """The ``waiver_claimed`` event's words: the claim, and that it is not a decision."""
    texts = "; ".join(w["text"] for w in ticket.waivers_claimed or [])
    return (
        f"You claim: {texts} — staff will confirm; until then the request is treated "
        f"as {treated_as(ticket)}."
    )


def waived_reason(text: str) -> str:
    """The ticket's coverage once a waiver is confirmed."""
    return f"included (waived: {text.rstrip('.')})"


def _pick(policy: Policy, ticket: Ticket, waiver_id: str | None) -> dict[str, str]:
    """The waiver to confirm: the one named (claimed, or one the request type has in
    the policy), else the only one claimed."""
    claims = list(ticket.waivers_claimed or [])
    if waiver_id is None:
        if len(claims) == 1:
            return dict(claims[0])
        if not claims:
            raise WaiverError(
                f"{ticket.number}: the customer claimed no waiver; name one with --waiver ID"
                + _offered(policy, ticket)
            )
        ids = ", ".join(w["id"] for w in claims)
        raise WaiverError(f"{ticket.number}: several waivers are claimed; name one of {ids}")
    for w in claims:
        if w["id"] == waiver_id:
            return dict(w)
    rt = policy.request_types.get(ticket.request_type)
    for offered in waivers_for(policy, rt) if rt else ():
        if offered.id == waiver_id:
            return offered.as_json()
    raise WaiverError(
        f"{ticket.number}: no waiver '{waiver_id}' applies" + _offered(policy, ticket)
    )


def _offered(policy: Policy, ticket: Ticket) -> str:
    rt = policy.request_types.get(ticket.request_type)
    ids = [w.id for w in waivers_for(policy, rt)] if rt else []
    return f" (this request type has: {', '.join(ids)})" if ids else " (this request type has none)"


def confirm_waiver(
    db: Database,
    policy: Policy,
    settings: Settings,
    number: str,
    *,
    waiver_id: str | None = None,
    note: str = "",
    by: str = "staff",
    now: dt.datetime,
) -> Ticket:
    """Staff confirm a waiver of a paid ticket: its coverage becomes "included (waived:
    …)" with no estimate, the history says so and the customer is mailed. Raises
    LookupError for an unknown ticket and :class:`WaiverError` when nothing can be
    waived (not paid work, already waived, no such waiver)."""
    with db.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.number == number).with_for_update()
        ).first()
        if ticket is None:
            raise LookupError(f"no ticket {number}")
        if ticket.waiver_confirmed:
            raise WaiverError(
                f"{number}: a waiver is already confirmed ({ticket.waiver_confirmed['id']})"
            )
        if ticket.coverage_status != "paid":
            raise WaiverError(
                f"{number} is not paid work ({ticket.coverage_status}); nothing to waive"
            )
        waiver = _pick(policy, ticket, waiver_id)
        estimate = ticket.estimate
        ticket.coverage_status = "included"
        ticket.coverage_reason = waived_reason(waiver["text"])
        ticket.estimate = None
        ticket.waiver_confirmed = waiver
        ticket.waiver_confirmed_by = by
        ticket.waiver_confirmed_at = now
        ticket.waiver_note = note
        ticket.updated_at = now
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind="waiver_confirmed",
                status=ticket.status,
                author="staff",
                note=f"No charge: {waiver['text'].rstrip('.')}. {note}".strip(),
            )
        )
        message = notify.waiver_confirmed(
            policy,
            ticket,
            waiver=waiver["text"],
            estimate=estimate,
            note=note,
            link=link_for_mail(settings, ticket, now),
        )
        outbox.enqueue(session, message)
        return ticket
