"""The staff console's ticket actions as ``portal tickets`` verbs: reply, note,
priority, assign, forward, complete, cancel, merge (and, through ``run_action``,
``set-status`` and ``reject-emergency`` of ``portal.cli.tickets``). Each calls
``portal.staff.actions``
(so the audit log records it, as the command line's user or the staff member
``--as`` names) and with ``--json`` prints one JSON object and nothing else: the
ticket (``ticket_payload``) and the action, or ``{"error": …}`` with exit status 1."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from portal.cli.common import open_database, pass_settings, policy_or_exit, printable
from portal.cli.staff import cli_actor
from portal.cli.tickets import tickets
from portal.config import Settings

if TYPE_CHECKING:
    from kb.policy import Policy
    from portal.db.engine import Database
    from portal.db.models import Ticket
    from portal.staff.audit import Actor

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
AS_OPTION = click.option(
    "--as", "as_staff", default=None, metavar="EMAIL", help="Act as this staff member."
)

Action = Callable[["Database", "Policy", "Actor", dt.datetime], "Ticket"]


def _text(value: str) -> str:
    """``-`` reads the text from standard input."""
    return sys.stdin.read() if value == "-" else value


def run_action(
    settings: Settings,
    action: str,
    as_json: bool,
    as_staff: str | None,
    do: Action,
    *,
    say: Callable[[Ticket], str] | None = None,
) -> None:
    """Run ``do`` as the command line's actor; print the ticket as JSON (``as_json``),
    else one line (``say``'s, or the status, priority and due time)."""
    from portal.staff.actions import ActionError
    from portal.tickets.queries import ticket_payload
    from portal.timefmt import ticket_zone

    policy = policy_or_exit(settings)
    actor = cli_actor(as_staff, settings)
    with open_database(settings) as db:
        try:
            ticket = do(db, policy, actor, dt.datetime.now(dt.UTC))
        except (ActionError, ValueError, LookupError) as exc:
            message = str(exc).strip("'\"")
            if as_json:
                click.echo(json.dumps({"action": action, "error": message}))
                sys.exit(1)
            raise click.ClickException(message) from exc
    if as_json:
        payload = {**ticket_payload(ticket), "timezone": ticket_zone(ticket.plan_snapshot, "UTC")}
        click.echo(json.dumps({"action": action, "ticket": payload}, indent=2))
        return
    if say is not None:
        click.echo(printable(say(ticket)))
        return
    due = ticket.due_at.isoformat(timespec="minutes") if ticket.due_at else "-"
    click.echo(
        f"{ticket.number}: {action} done; {ticket.status}, priority {ticket.priority}, due {due}"
    )


def _common(command: Callable[..., None]) -> Callable[..., None]:
    return AS_OPTION(JSON_OPTION(command))


@tickets.command("reply")
@click.argument("number")
@click.option("--text", required=True, help="The answer (mailed to the customer); - reads stdin.")
@click.option("--status", default=None, help="Also change the status to this one.")
@_common
@pass_settings(policy=True)
def tickets_reply(
    settings: Settings,
    number: str,
    text: str,
    status: str | None,
    as_json: bool,
    as_staff: str | None,
) -> None:
    """Answer the customer: mailed, and shown on their status page."""
    from portal.staff import actions

    body = _text(text)
    run_action(
        settings,
        "reply",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.reply(
            db, policy, settings, actor, number, body, status=status, now=now
        ),
    )


@tickets.command("note")
@click.argument("number")
@click.option("--text", required=True, help="The note (staff only); - reads stdin.")
@_common
@pass_settings(policy=True)
def tickets_note(
    settings: Settings, number: str, text: str, as_json: bool, as_staff: str | None
) -> None:
    """An internal note: never shown or mailed to the customer."""
    from portal.staff import actions

    body = _text(text)
    run_action(
        settings,
        "note",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.note(db, actor, number, body, now=now),
    )


@tickets.command("priority")
@click.argument("number")
@click.argument("priority")
@click.option("--reason", required=True, help="Why (shown to the customer).")
@_common
@pass_settings(policy=True)
def tickets_priority(
    settings: Settings,
    number: str,
    priority: str,
    reason: str,
    as_json: bool,
    as_staff: str | None,
) -> None:
    """Another priority, with the reason; the first response is due again at it."""
    from portal.staff import actions

    run_action(
        settings,
        "priority",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.set_priority(
            db, policy, actor, number, priority, reason, now=now
        ),
    )


@tickets.command("assign")
@click.argument("number")
@click.argument("email", required=False)
@_common
@pass_settings(policy=True)
def tickets_assign(
    settings: Settings, number: str, email: str | None, as_json: bool, as_staff: str | None
) -> None:
    """Assign to a staff member (by address); without EMAIL, to nobody."""
    from portal.staff import actions

    run_action(
        settings,
        "assign",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.assign(db, actor, number, email, now=now),
    )


@tickets.command("forward")
@click.argument("number")
@click.option("--note", default="", help="A note for the upstream provider.")
@_common
@pass_settings(policy=True)
def tickets_forward(
    settings: Settings, number: str, note: str, as_json: bool, as_staff: str | None
) -> None:
    """Mail the request to the upstream provider with the server's name and id."""
    from portal.staff import actions

    run_action(
        settings,
        "forward",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.forward(
            db, policy, settings, actor, number, note, now=now
        ),
    )


def _finish(done: bool) -> Callable[..., None]:
    def command(
        settings: Settings, number: str, note: str, as_json: bool, as_staff: str | None
    ) -> None:
        from portal.staff import actions

        run_action(
            settings,
            "complete" if done else "cancel",
            as_json,
            as_staff,
            lambda db, policy, actor, now: actions.finish_task(
                db, policy, settings, actor, number, done=done, note_text=note, now=now
            ),
        )

    return command


@tickets.command("complete")
@click.argument("number")
@click.option("--note", default="", help="For the customer.")
@_common
@pass_settings(policy=True)
def tickets_complete(
    settings: Settings, number: str, note: str, as_json: bool, as_staff: str | None
) -> None:
    """Mark a maintenance task complete; the customer is mailed."""
    _finish(True)(settings, number, note, as_json, as_staff)


@tickets.command("cancel")
@click.argument("number")
@click.option("--note", required=True, help="Why (for the customer).")
@_common
@pass_settings(policy=True)
def tickets_cancel(
    settings: Settings, number: str, note: str, as_json: bool, as_staff: str | None
) -> None:
    """Cancel a maintenance task with a note; the customer is mailed."""
    _finish(False)(settings, number, note, as_json, as_staff)


@tickets.command("merge")
@click.argument("number")
@click.option("--into", "into", required=True, help="The ticket of the same account to keep.")
@click.option("--note", default="", help="For the customer.")
@_common
@pass_settings(policy=True)
def tickets_merge(
    settings: Settings,
    number: str,
    into: str,
    note: str,
    as_json: bool,
    as_staff: str | None,
) -> None:
    """Merge a duplicate into another ticket of the same account (printed: that one)."""
    from portal.staff import actions

    run_action(
        settings,
        "merge",
        as_json,
        as_staff,
        lambda db, policy, actor, now: actions.merge(
            db, policy, settings, actor, number, into, note, now=now
        ),
    )
