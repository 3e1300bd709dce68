"""Signing in over HTTP the way a customer does: ask for a code, read it from the
outbox table (the mail the portal queued), type it."""

from __future__ import annotations

import re

import httpx2 as httpx
from sqlalchemy import select

from portal.db.engine import Database
from portal.db.models import Outbox
from tests.support.forms import post

CODE = re.compile(r"^  ([0-9]{6})$", re.M)
LINK = re.compile(r"https?://\S+(/signin/link\?token=\S+)")

# extra accounts for the sign-in tests: one contact of two accounts, and contacts
# used by one test each (so the per-address rate limits of one test do not touch another)
ACCOUNTS_YAML = """
accounts:
  - id: TS-1001
    name: Test One
    plan: standard
    contacts:
      - {email: multi@test.example, name: Mona Multi, role: primary}
      - {email: brute@test.example, name: Bruno Brute, role: authorised}
      - {email: again@test.example, name: Aga Again, role: authorised}
      - {email: other@test.example, name: Otto Other, role: authorised}
  - id: TS-1002
    name: Test Two
    plan: priority
    contacts:
      - {email: multi@test.example, name: Mona Multi, role: authorised}
      - {email: away@test.example, name: Ava Away, role: primary}
      - {email: late@test.example, name: Lars Late, role: authorised}
"""


def last_mail(db: Database, to: str, purpose: str = "signin") -> Outbox | None:
    with db.session() as session:
        return session.scalars(
            select(Outbox)
            .where(Outbox.recipient == to, Outbox.purpose == purpose)
            .order_by(Outbox.id.desc())
        ).first()


def code_for(db: Database, email: str) -> str:
    """The code of the newest sign-in mail to ``email``."""
    mail = last_mail(db, email)
    assert mail is not None, f"no sign-in mail to {email}"
    match = CODE.search(mail.body)
    assert match, mail.body
    return match.group(1)


def link_for(db: Database, email: str) -> str:
    """The path (with its token) of the newest sign-in mail's link."""
    mail = last_mail(db, email)
    assert mail is not None
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def ask(client: httpx.Client, email: str, account: str = "") -> httpx.Response:
    return post(client, "/signin", {"email": email, "account": account})


def sign_in(client: httpx.Client, db: Database, email: str, account: str = "") -> httpx.Response:
    """Ask for a code and type it; returns the answer to the code (303 when signed in)."""
    r = ask(client, email, account)
    assert r.status_code == 200, r.text
    return post(client, "/signin/code", {"email": email, "code": code_for(db, email)})
