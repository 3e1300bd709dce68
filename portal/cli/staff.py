"""Staff accounts: staff add, list, disable, reset, audit."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import TYPE_CHECKING

import click

from portal.cli.common import open_database, pass_settings, printable
from portal.config import Settings

if TYPE_CHECKING:
    from portal.staff.audit import Actor


def cli_actor(email: str | None = None, settings: Settings | None = None) -> Actor:
    """Who acts from the command line: the staff member ``--as`` names (active), else
    the shell user (``cli:<user>``), for the audit log."""
    from portal.staff.audit import Actor

    if email and settings is not None:
        from sqlalchemy import select

        from portal.db.models import StaffUser

        with open_database(settings) as db, db.session() as session:
            staff = session.scalars(
                select(StaffUser).where(StaffUser.email == email.strip().lower())
            ).first()
            if staff is None or not staff.active:
                raise click.ClickException(f"no active staff member {email}")
            return Actor(staff.id, staff.email, staff.name, staff.role, "cli")
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return Actor(None, f"cli:{user}", "Support team", "admin", "cli")


@click.group()
def staff() -> None:
    """Staff accounts of the console (/staff) and their audit log."""


@staff.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The staff member's name, as customers see it.")
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent", show_default=True)
@pass_settings()
def staff_add(settings: Settings, email: str, name: str, role: str) -> None:
    """Add a staff member; prints the one-time link that sets their password."""
    from portal.staff import accounts

    with open_database(settings) as db:
        try:
            issued = accounts.add(
                db,
                settings,
                email,
                name=name,
                role=role,
                actor=cli_actor(),
                now=dt.datetime.now(dt.UTC),
            )
        except accounts.StaffError as exc:
            raise click.ClickException(str(exc)) from exc
    hours = settings.staff_link_max_age // 3600
    click.echo(f"added {issued.staff.email} ({issued.staff.role})")
    click.echo(f"set-password link (works once, for {hours} hours):")
    click.echo(issued.link)


@staff.command("reset")
@click.argument("email")
@pass_settings()
def staff_reset(settings: Settings, email: str) -> None:
    """A new set-password link (older links stop working; for admins it also sets up
    the authenticator again)."""
    from portal.staff import accounts

    with open_database(settings) as db:
        try:
            issued = accounts.reset(
                db,
                settings,
                email,
                actor=cli_actor(),
                now=dt.datetime.now(dt.UTC),
            )
        except accounts.StaffError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(issued.link)


@staff.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@pass_settings()
def staff_list(settings: Settings, as_json: bool) -> None:
    """Every staff member: address, name, role, state, last sign-in."""
    from portal.staff import accounts

    with open_database(settings) as db:
        rows = accounts.listing(db)
    items = [
        {
            "email": s.email,
            "name": s.name,
            "role": s.role,
            "active": s.active,
            "password_set": s.password_hash is not None,
            "totp": s.totp_secret is not None,
            "last_login_at": s.last_login_at.isoformat() if s.last_login_at else None,
        }
        for s in rows
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        state = "active" if item["active"] else "disabled"
        if item["active"] and not item["password_set"]:
            state = "no password yet"
        click.echo(
            printable(
                f"{item['email']:<32} {item['role']:<6} {state:<16} "
                f"last sign-in {item['last_login_at'] or '-'}  {item['name']}"
            )
        )
    if not items:
        click.echo("no staff members")


@staff.command("disable")
@click.argument("email")
@pass_settings()
def staff_disable(settings: Settings, email: str) -> None:
    """No more sign-ins for this staff member; their sessions end now."""
    from portal.staff import accounts

    with open_database(settings) as db:
        try:
            accounts.disable(
                db,
                email,
                actor=cli_actor(),
                now=dt.datetime.now(dt.UTC),
            )
        except accounts.StaffError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"disabled {email.strip().lower()}")


@staff.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--ticket", default=None, help="Only what was done to this ticket.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@pass_settings()
def staff_audit(settings: Settings, limit: int, ticket: str | None, as_json: bool) -> None:
    """Staff actions and sign-in attempts, newest first."""
    from portal.staff import audit

    with open_database(settings) as db:
        rows = audit.entries(db, limit=limit, ticket=ticket.upper() if ticket else None)
    items = [
        {
            "at": r.at.isoformat(),
            "staff": r.staff_email,
            "action": r.action,
            "ticket": r.ticket_number,
            "detail": r.detail,
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(
            printable(
                f"{str(item['at'])[:19]}  {item['action']:<18} {item['ticket'] or '-':<11} "
                f"{item['staff']}  {item['detail']}".rstrip()
            )
        )
    if not items:
        click.echo("no audit entries")
