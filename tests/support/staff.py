"""Staff members and tickets for the staff console's tests: a staff member with a
password set through their one-time link, signing in over HTTP, and a ticket filed
the way the filing link files it."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import urllib.parse
from typing import Any

import httpx2 as httpx

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PendingRequest, StaffUser, Ticket
from portal.staff import accounts
from portal.staff.audit import Actor
from portal.tickets.filing import file_pending
from tests.support.forms import TOKEN

PASSWORD = "correct horse battery staple"
CLI = Actor(None, "cli:test", "Support team", "admin", "cli")

# details of the demo policy's request types, as the wizard stores them
DETAILS: dict[str, dict[str, str]] = {
    "email-not-working": {
        "mailbox": "info@lindqvist.example",
        "error_message": "550",
        "occurred_at": "2026-11-02T09:40",
        "doing": "sending",
    },
    "server-down": {"server": "web-12 (id 4711)", "occurred_at": "2026-11-02T09:40"},
    "server-reboot": {
        "server": "db-3 (id 8802)",
        "preferred_date": "2026-12-10",
        "description": "reboot please",
    },
    "extra-ip": {
        "server": "web-12 (id 4711)",
        "preferred_date": "2026-12-10",
        "description": "two more addresses",
    },
    "backup-schedule": {
        "server": "ds-101",
        "preferred_date": "2026-12-10",
        "description": "weekly backups",
    },
}


def add_staff(
    db: Database,
    settings: Settings,
    email: str,
    *,
    name: str = "Sam Agent",
    role: str = "agent",
    password: str = PASSWORD,
    now: dt.datetime | None = None,
    code: str = "",
) -> StaffUser:
    """A staff member whose password is set (through their link, as they would)."""
    now = now or dt.datetime.now(dt.UTC)
    issued = accounts.add(db, settings, email, name=name, role=role, actor=CLI, now=now)
    errors = accounts.set_password(
        db, settings, link_token(issued.link), password, password, code=code, now=now
    )
    assert errors == {}, errors
    staff = accounts.by_id(db, issued.staff.id)
    assert staff is not None
    return staff


def link_token(link: str) -> str:
    query = urllib.parse.urlsplit(link).query
    return urllib.parse.parse_qs(query)["token"][0]


def csrf_of(page: str) -> str:
    match = TOKEN.search(page)
    assert match, page[:500]
    return match.group(1)


def sign_in(
    client: httpx.Client, email: str, password: str = PASSWORD, *, code: str = ""
) -> httpx.Response:
    """Post the sign-in form with the session's CSRF token (redirects not followed)."""
    token = csrf_of(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": password, "next": "/staff"}
    if code:
        data["code"] = code
    return client.post("/staff/login", data=data, follow_redirects=False)


def staff_post(client: httpx.Client, url: str, data: dict[str, str]) -> httpx.Response:
    """A console form, with the CSRF token of the page it is on."""
    page = client.get(url.rsplit("/", 1)[0] if "/tickets/" in url else "/staff")
    return client.post(url, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False)


def file_ticket(
    db: Database,
    policy: Policy,
    settings: Settings,
    *,
    account: str = "HH-10234",
    email: str = "anna@lindqvist.example",
    request_type: str = "email-not-working",
    at: dt.datetime | None = None,
    priority: str = "high",
    emergency: bool = False,
    tz: str = "Europe/Berlin",
    **extra: Any,
) -> Ticket:
    """A reviewed request of a listed contact, filed through its filing link at ``at``."""
    at = at or dt.datetime.now(dt.UTC)
    pending_id = secrets.token_urlsafe(16)
    data = {
        "text": "it is all broken",
        "request_type": request_type,
        "account": account,
        "email": email,
        "tz": tz,
        "details": DETAILS[request_type],
        "priority": priority,
        "emergency_claimed": emergency,
        **extra,
    }
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account,
                email=email,
                data=data,
                client="test",
                listed=True,
                created_at=at,
            )
        )
    filing = file_pending(db, policy, settings, pending_id, accepted_now=True, now=at)
    assert filing is not None and filing.ticket is not None, filing and filing.problem
    return filing.ticket


NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")


def staff_settings(database_url: str, tmp: Any, build_dir: Any, **overrides: Any) -> Settings:
    """Settings of the console's tests: the demo content, a real database."""
    from tests.support.paths import CONTENT

    values: dict[str, Any] = {
        "content_dir": CONTENT,
        "policy_file": CONTENT / "policy.yaml",
        "build_dir": build_dir,
        "database_url": database_url,
        "upload_dir": tmp / "uploads",
        "secret_key": "staff-tests",
        "allowed_hosts": ("testserver", "127.0.0.1"),
        "base_url": "https://support.harbor.example/",
        "staff_login_account": (1000, 900),
        "staff_login_client": (1000, 900),
        **overrides,
    }
    return Settings.from_env(**values)
