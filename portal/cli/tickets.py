"""Staff verbs: tickets list, show, set-status, reject-emergency, waive, outbox, audit."""

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
    return {
        **ticket_payload(view.ticket),
        "timezone": _zone(view.ticket),
        **_waivers_json(view),
        "events": events,
    }


def _zone(ticket: Any) -> str:
    """The customer's time zone, as chosen when filing (UTC when none was)."""
    from portal.timefmt import ticket_zone

    return ticket_zone(ticket.plan_snapshot, "UTC")


def _waivers_json(view: TicketView) -> dict[str, Any]:
    t = view.ticket
    confirmed = (
        {
            **t.waiver_confirmed,
            "by": t.waiver_confirmed_by,
            "at": t.waiver_confirmed_at.isoformat() if t.waiver_confirmed_at else None,
            "note": t.waiver_note or "",
        }
        if t.waiver_confirmed
        else None
    )
    return {"waivers": {"claimed": list(t.waivers_claimed or []), "confirmed": confirmed}}


def _ticket_text(view: TicketView) -> str:
    from portal.timefilters import KIND_BY_LABEL
    from portal.timefmt import human_detail, human_time

    t = view.ticket
    # times in the customer's zone, as the customer sees them (with the year)
    zone = _zone(t)

    def local(moment: dt.datetime) -> str:
        return human_time(moment, zone, year=True)

    due = local(t.due_at) if t.due_at else "-"
    lines = [
        f"{t.number}  {t.status}  priority {t.priority}  first response due {due}",
        f"account:      {t.account_id} ({t.plan})",
        f"contact:      {t.contact_name} <{t.contact_email}> ({t.contact_role})",
        f"time zone:    {zone} (the customer's; the times below are in it)",
        f"request type: {t.request_type}",
        f"coverage:     {t.coverage_status}: {t.coverage_reason}",
    ]
    if t.estimate:
        lines.append(f"estimate:     {t.estimate}")
    for w in t.waivers_claimed or []:
        lines.append(f"claimed:      {w['id']}: {w['text']} (a claim: confirm with tickets waive)")
    if t.waiver_confirmed:
        at = local(t.waiver_confirmed_at) if t.waiver_confirmed_at else "-"
        lines.append(
            f"waived:       {t.waiver_confirmed['id']} by {t.waiver_confirmed_by} at {at}"
            + (f": {t.waiver_note}" if t.waiver_note else "")
        )
    if t.emergency_outcome and t.emergency_outcome != "none":
        lines.append(f"emergency:    {t.emergency_outcome}")
    lines += ["", t.title, "", t.text]
    if t.details:
        lines += ["", "details:"] + [
            f"  {key}: {human_detail(KIND_BY_LABEL.get(key, ''), str(value), zone, year=True)}"
            for key, value in t.details.items()
        ]
    lines += ["", "history:"]
    for event in view.events:
        status = f" {event.status}" if event.status else ""
        lines.append(
            f"  {local(event.at)}  {event.kind}{status} ({event.author}) {event.note}".rstrip()
        )
    return "\n".join(lines)


_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_AS = click.option(
    "--as", "as_staff", default=None, metavar="EMAIL", help="Act as this staff member."
)


@tickets.command("set-status")
@click.argument("number")
@click.argument("status")
@click.option("--note", default="", help="Message for the customer.")
@_AS
@_JSON
@pass_settings(policy=True)
def tickets_set_status(
    settings: Settings, number: str, status: str, note: str, as_json: bool, as_staff: str | None
) -> None:
    """Change a ticket's status; the customer is emailed."""
    from portal.cli.ticket_actions import run_action
    from portal.staff import actions

    run_action(
        settings,
        "status",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.set_status(
            db, policy, settings, actor, number, status, note, now=now
        ),
        say=lambda ticket: f"{ticket.number}: {ticket.status}",
    )


@tickets.command("reject-emergency")
@click.argument("number")
@click.option("--note", required=True, help="Why it is not an emergency (sent to the customer).")
@_AS
@_JSON
@pass_settings(policy=True)
def tickets_reject_emergency(
    settings: Settings, number: str, note: str, as_json: bool, as_staff: str | None
) -> None:
    """An accepted emergency that is not one: back to an ordinary priority, counted for
    the abuse rule; the customer is emailed the policy's definition and what happens next."""
    from portal.cli.ticket_actions import run_action
    from portal.staff import actions

    def say(ticket: Any) -> str:
        due = ticket.due_at.isoformat(timespec="minutes") if ticket.due_at else "-"
        return f"{ticket.number}: not an emergency; priority {ticket.priority}, due {due}"

    run_action(
        settings,
        "reject_emergency",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.reject_emergency(
            db, policy, settings, actor, number, note, now=now
        ),
        say=say,
    )


@tickets.command("waive")
@click.argument("number")
@click.option(
    "--waiver", "waiver_id", default=None, help="The waiver id (default: the one claimed)."
)
@click.option("--note", default="", help="Message for the customer.")
@click.option("--json", "as_json", is_flag=True, help="Print the ticket's waivers as JSON.")
@_AS
@pass_settings(policy=True)
def tickets_waive(
    settings: Settings,
    number: str,
    waiver_id: str | None,
    note: str,
    as_json: bool,
    as_staff: str | None,
) -> None:
    """Confirm a waiver: the ticket becomes included with no charge (no estimate), the
    history records it, the staff audit log too, and the customer is emailed."""
    from portal.cli.staff import cli_actor
    from portal.staff import actions

    policy = policy_or_exit(settings)
    actor = cli_actor(as_staff, settings)
    with open_database(settings) as db:
        try:
            now = dt.datetime.now(dt.UTC)
            ticket = actions.confirm_waiver(
                db, policy, settings, actor, number, waiver_id=waiver_id, note_text=note, now=now
            )
        except (ValueError, LookupError) as exc:
            message = str(exc).strip("'\"")
            if as_json:  # still one JSON object, and nothing else
                click.echo(json.dumps({"action": "confirm_waiver", "error": message}))
                raise SystemExit(1) from exc
            raise click.ClickException(message) from exc
    if as_json:
        payload = {
            "number": ticket.number,
            "coverage": {"status": ticket.coverage_status, "reason": ticket.coverage_reason},
            "estimate": ticket.estimate,
            "waiver": ticket.waiver_confirmed,
            "by": ticket.waiver_confirmed_by,
            "at": now.isoformat(),
            "note": note,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(printable(f"{number}: {ticket.coverage_reason}; the customer is emailed"))


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
