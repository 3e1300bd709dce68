"""Staff verbs: tickets list, show, set-status, reject-emergency, outbox, audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from portal.cli.common import (
    GROUP_POLICY,
    POLICY_OPTION,
    open_database,
    pass_settings,
    policy_or_exit,
    printable,
)
from portal.config import Settings

if TYPE_CHECKING:
    from portal.tickets.queries import TicketView


@click.group()
@POLICY_OPTION
def tickets(policy_file: Path | None) -> None:
    """Staff tools: list, show and update tickets; the outbox; the audit log.
    ``--policy`` may come before the subcommand or after it."""
    click.get_current_context().meta[GROUP_POLICY] = policy_file


@tickets.command("list")
@click.option("--status", default=None, help="Only tickets with this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_settings()
def tickets_list(settings: Settings, status: str | None, limit: int) -> None:
    """The newest tickets."""
    from portal.tickets import queries

    with open_database(settings) as db:
        rows = queries.list_tickets(db, status=status, limit=limit)
    for t in rows:
        due = t.due_at.isoformat(timespec="minutes") if t.due_at else "-"
        click.echo(
            printable(
                f"{t.number}  {t.status:<20} {t.priority:<8} due {due:<25} "
                f"{t.account_id}  {t.title}"
            )
        )
    if not rows:
        click.echo("no tickets")


@tickets.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, with the history.")
@pass_settings()
def tickets_show(settings: Settings, number: str, as_json: bool) -> None:
    """One ticket with its history (plain text; --json for one JSON object)."""
    from portal.tickets import queries

    with open_database(settings) as db:
        view = queries.load_ticket(db, number)
    if view is None:
        raise click.ClickException(f"no ticket {number}")
    if as_json:
        # ASCII JSON: exact data, and no control character reaches the terminal
        click.echo(json.dumps(_ticket_json(view), indent=2))
        return
    click.echo(printable(_ticket_text(view)))


def _ticket_json(view: TicketView) -> dict[str, Any]:
    from portal.tickets.queries import ticket_payload

    events = [
        {
            "at": e.at.isoformat(),
            "kind": e.kind,
            "status": e.status,
            "author": e.author,
            "note": e.note,
        }
        for e in view.events
    ]
    return {**ticket_payload(view.ticket), "events": events}


def _ticket_text(view: TicketView) -> str:
    t = view.ticket
    due = t.due_at.isoformat(timespec="minutes") if t.due_at else "-"
    lines = [
        f"{t.number}  {t.status}  priority {t.priority}  first response due {due}",
        f"account:      {t.account_id} ({t.plan})",
        f"contact:      {t.contact_name} <{t.contact_email}> ({t.contact_role})",
        f"request type: {t.request_type}",
        f"coverage:     {t.coverage_status}: {t.coverage_reason}",
    ]
    if t.estimate:
        lines.append(f"estimate:     {t.estimate}")
    if t.emergency_outcome and t.emergency_outcome != "none":
        lines.append(f"emergency:    {t.emergency_outcome}")
    lines += ["", t.title, "", t.text]
    if t.details:
        lines += ["", "details:"] + [f"  {key}: {value}" for key, value in t.details.items()]
    lines += ["", "history:"]
    for event in view.events:
        status = f" {event.status}" if event.status else ""
        lines.append(
            f"  {event.at.isoformat(timespec='minutes')}  {event.kind}{status} "
            f"({event.author}) {event.note}".rstrip()
        )
    return "\n".join(lines)


@tickets.command("set-status")
@click.argument("number")
@click.argument("status")
@click.option("--note", default="", help="Message for the customer.")
@pass_settings(policy=True)
def tickets_set_status(settings: Settings, number: str, status: str, note: str) -> None:
    """Change a ticket's status; the customer is emailed."""
    from portal.tickets import updates

    policy = policy_or_exit(settings)
    with open_database(settings) as db:
        try:
            now = dt.datetime.now(dt.UTC)
            updates.set_status(db, policy, settings, number, status, note, now=now)
        except (ValueError, LookupError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{number}: {status}")


@tickets.command("reject-emergency")
@click.argument("number")
@click.option("--note", required=True, help="Why it is not an emergency (sent to the customer).")
@pass_settings(policy=True)
def tickets_reject_emergency(settings: Settings, number: str, note: str) -> None:
    """An accepted emergency that is not one: back to an ordinary priority, counted for
    the abuse rule; the customer is emailed the policy's definition and what happens next."""
    from portal.tickets import updates

    policy = policy_or_exit(settings)
    with open_database(settings) as db:
        try:
            now = dt.datetime.now(dt.UTC)
            ticket = updates.reject_emergency(db, policy, settings, number, note, now=now)
        except (ValueError, LookupError) as exc:
            raise click.ClickException(str(exc)) from exc
    due = ticket.due_at.isoformat(timespec="minutes") if ticket.due_at else "-"
    click.echo(f"{number}: not an emergency; priority {ticket.priority}, due {due}")


@tickets.command("outbox")
@click.option("--all", "show_all", is_flag=True, help="Include delivered messages.")
@click.option("--deliver", is_flag=True, help="Try to deliver what is due now.")
@pass_settings(policy=True)
def tickets_outbox(settings: Settings, show_all: bool, deliver: bool) -> None:
    """Mail and webhooks waiting to be delivered (and their last error)."""
    from portal.tickets import outbox

    policy = policy_or_exit(settings) if deliver else None
    with open_database(settings) as db:
        if deliver:
            result = outbox.deliverer_for(db, settings, policy).deliver_due()
            click.echo(f"delivered {result.delivered}, failed {result.failed}")
        rows = outbox.pending(db, include_delivered=show_all)
    for row in rows:
        state = "delivered" if row.delivered_at else f"attempts {row.attempts}"
        error = f"  last error: {row.last_error}" if row.last_error and not row.delivered_at else ""
        click.echo(
            printable(
                f"#{row.id} {row.kind:<7} {row.purpose:<12} {row.ticket_number or '-':<11} "
                f"{row.recipient}  {state}{error}"
            )
        )
    if not rows:
        click.echo("outbox is empty")


@tickets.command("audit")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_settings()
def tickets_audit(settings: Settings, limit: int) -> None:
    """Refused attempts: unlisted senders, contacts asking beyond their role."""
    from portal.tickets import queries

    with open_database(settings) as db:
        entries = queries.audit_entries(db, limit)
    for entry in entries:
        click.echo(
            printable(
                f"{entry.at.isoformat(timespec='seconds')}  {entry.kind:<16} "
                f"{entry.account_id:<12} {entry.email}  {entry.detail}"
            )
        )
