"""The notices the directory and the tickets owe, scheduled once each (a notice's key
names its reason: ``plan-ending:<account>:<last day>``, ``waiting:<ticket>:<since>``),
so a scan may run any number of times, in any number of workers. The running portal
scans every ``SCAN_INTERVAL_SECONDS`` from the outbox loop."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from kb.policy import Policy
from kb.policy.notices import plan_ending_at, waiting_reminder_at
from portal.db.engine import Database
from portal.db.models import Account, Ticket
from portal.notices.mail import waiting_since
from portal.notices.store import primary_contact, schedule

SCAN_INTERVAL_SECONDS = 60.0


@dataclass
class ScanReport:
    scheduled: int = 0


def run(db: Database, policy: Policy, *, now: dt.datetime) -> ScanReport:
    report = ScanReport()
    with db.session() as session:
        if policy.notices.plan_ending_days:
            accounts = session.scalars(
                select(Account).where(
                    Account.plan_ends.is_not(None), Account.plan_ends >= now.date()
                )
            )
            for account in list(accounts):
                assert account.plan_ends is not None
                due = plan_ending_at(policy, account.plan_ends)
                recipient = primary_contact(session, account.id)
                if due is None or not recipient:
                    continue
                last_day = account.plan_ends.isoformat()
                if schedule(
                    session,
                    key=f"plan-ending:{account.id}:{last_day}",
                    kind="plan_ending",
                    due_at=due,
                    recipient=recipient,
                    now=now,
                    account_id=account.id,
                    data={"last_day": last_day, "plan": account.plan},
                ):
                    report.scheduled += 1
        if policy.notices.waiting_reminder_days:
            waiting = session.scalars(select(Ticket).where(Ticket.status == "waiting_for_customer"))
            for ticket in list(waiting):
                since = waiting_since(session, ticket)
                due = waiting_reminder_at(policy, since) if since else None
                if since is None or due is None:
                    continue
                if schedule(
                    session,
                    key=f"waiting:{ticket.number}:{since.isoformat()}",
                    kind="waiting_reminder",
                    due_at=due,
                    recipient=ticket.contact_email,
                    now=now,
                    account_id=ticket.account_id,
                    ticket_number=ticket.number,
                    data={"since": since.isoformat()},
                ):
                    report.scheduled += 1
    return report
