"""Staff accounts: added by an admin on the command line with a one-time link to set
the password (signed, expiring after ``PORTAL_STAFF_LINK_MAX_AGE``, single use: the
link's nonce is stored and cleared when used, and a newer link replaces it), listed,
disabled (their sessions end at once). Admins enrol a TOTP authenticator on the same
page when ``PORTAL_STAFF_TOTP=1``."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
import secrets
import urllib.parse
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select

from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import StaffSession, StaffUser
from portal.staff import audit, passwords
from portal.tickets import tokens

ROLES = ("admin", "agent")
SET_PASSWORD = "portal.staff-password"  # noqa: S105 - the set-password links' token purpose
PASSWORD_PATH = "staff/password"  # noqa: S105 - a path
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


class StaffError(ValueError):
    """Something a staff command cannot do, said so that it can be fixed."""


@dataclass(frozen=True)
class Issued:
    staff: StaffUser
    link: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def actor_of(staff: StaffUser, client: str = "") -> audit.Actor:
    return audit.Actor(staff.id, staff.email, staff.name, staff.role, client)


def _link(settings: Settings, staff_id: int, nonce: str) -> str:
    token = tokens.make(settings.secret_key, SET_PASSWORD, f"{staff_id}:{nonce}")
    return f"{settings.base_url}{PASSWORD_PATH}?token={urllib.parse.quote(token)}"


def add(
    db: Database,
    settings: Settings,
    email: str,
    *,
    name: str,
    role: str,
    actor: audit.Actor,
    now: dt.datetime,
) -> Issued:
    """A new staff member and the one link that sets their password."""
    email = normalise_email(email)
    if len(email) > 254 or not _EMAIL.match(email):
        raise StaffError(f"'{email}' is not an e-mail address")
    if role not in ROLES:
        raise StaffError(f"unknown role '{role}' (one of {', '.join(ROLES)})")
    name = " ".join(name.split())
    if not name or len(name) > 200 or not name.isprintable():
        raise StaffError("give the staff member's name (up to 200 printable characters)")
    nonce = secrets.token_urlsafe(24)
    with db.session() as session:
        if session.scalars(select(StaffUser).where(StaffUser.email == email)).first():
            raise StaffError(f"{email} is already a staff member (use 'portal staff reset')")
        staff = StaffUser(email=email, name=name, role=role, password_nonce=nonce, created_at=now)
        session.add(staff)
        session.flush()
        audit.record(session, actor, "staff_added", now=now, detail=f"{email} ({role})")
        return Issued(staff, _link(settings, staff.id, nonce))


def reset(
    db: Database, settings: Settings, email: str, *, actor: audit.Actor, now: dt.datetime
) -> Issued:
    """A new set-password link (older links stop working); the password stays valid
    until the new one is set."""
    email = normalise_email(email)
    nonce = secrets.token_urlsafe(24)
    with db.session() as session:
        staff = session.scalars(select(StaffUser).where(StaffUser.email == email)).first()
        if staff is None:
            raise StaffError(f"no staff member {email}")
        staff.password_nonce = nonce
        audit.record(session, actor, "password_link", now=now, detail=email)
        return Issued(staff, _link(settings, staff.id, nonce))


def listing(db: Database) -> list[StaffUser]:
    with db.session() as session:
        return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def by_id(db: Database, staff_id: int) -> StaffUser | None:
    with db.session() as session:
        return session.get(StaffUser, staff_id)


def disable(db: Database, email: str, *, actor: audit.Actor, now: dt.datetime) -> StaffUser:
    """No more sign-ins; every session of theirs ends now."""
    email = normalise_email(email)
    with db.session() as session:
        staff = session.scalars(select(StaffUser).where(StaffUser.email == email)).first()
        if staff is None:
            raise StaffError(f"no staff member {email}")
        staff.active = False
        staff.password_nonce = None
        session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        audit.record(session, actor, "staff_disabled", now=now, detail=email)
        return staff


# --- the set-password page -------------------------------------------------------------


def totp_secret_for(settings: Settings, nonce: str) -> str:
    """The TOTP secret an admin enrols with this link: derived from the link's nonce
    with the secret key, so the page and its submission agree without storing it."""
    digest = hmac.new(settings.secret_key.encode(), b"staff-totp:" + nonce.encode(), "sha256")
    return base64.b32encode(digest.digest()[:20]).decode().rstrip("=")


def totp_required(settings: Settings, staff: StaffUser) -> bool:
    return settings.staff_totp and staff.role == "admin"


@dataclass(frozen=True)
class LinkCheck:
    staff: StaffUser
    nonce: str
    totp_secret: str | None  # to enrol on this page (admins, when TOTP is required)

    def totp_uri(self, issuer: str) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).provisioning_uri(
            name=self.staff.email, issuer_name=issuer
        )


def check_link(db: Database, settings: Settings, token: str) -> LinkCheck:
    """The staff member a set-password link is for; TokenError when it is not valid,
    expired or already used (or replaced by a newer one)."""
    value = tokens.read(settings.secret_key, SET_PASSWORD, token, settings.staff_link_max_age)
    staff_id, _, nonce = value.partition(":")
    if not staff_id.isdigit() or not nonce:
        raise tokens.TokenError("This link is not valid.")
    with db.session() as session:
        staff = session.get(StaffUser, int(staff_id))
    if (
        staff is None
        or not staff.active
        or staff.password_nonce is None
        or not hmac.compare_digest(staff.password_nonce, nonce)
    ):
        raise tokens.TokenError(
            "This link was already used or replaced by a newer one. "
            "Ask an admin for a new one (portal staff reset).",
            expired=True,
        )
    secret = totp_secret_for(settings, nonce) if totp_required(settings, staff) else None
    return LinkCheck(staff, nonce, secret)


def totp_step(secret: str, code: str, now: dt.datetime, last_step: int) -> int | None:
    """The time step a 6-digit code belongs to (now, or 30 s either side), if it is
    right and newer than ``last_step`` (a code works once); else None."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def set_password(
    db: Database,
    settings: Settings,
    token: str,
    password: str,
    repeat: str,
    *,
    code: str = "",
    client: str = "",
    now: dt.datetime,
) -> dict[str, str]:
    """Set the password from a set-password link (the link is used up); for admins
    when TOTP is required, also enrol the authenticator with a code from it. Returns
    the problems by field ({} when done); TokenError when the link does not work."""
    check = check_link(db, settings, token)
    staff = check.staff
    errors: dict[str, str] = {}
    wrong = passwords.problem(password, email=staff.email, name=staff.name)
    if wrong:
        errors["password"] = wrong
    elif password != repeat:
        errors["repeat"] = "The two passwords differ; type the same one twice."
    step = None
    if check.totp_secret is not None:
        step = totp_step(check.totp_secret, code, now, 0)
        if step is None:
            errors["code"] = "Enter the 6-digit code your authenticator app shows now."
    if errors:
        return errors
    hashed = passwords.hash_password(password)
    with db.session() as session:
        row = session.get(StaffUser, staff.id)
        assert row is not None
        if row.password_nonce != check.nonce:  # used at the same moment in another tab
            raise tokens.TokenError("This link was already used.", expired=True)
        row.password_hash = hashed
        row.password_nonce = None
        row.failed_logins = 0
        row.locked_until = None
        if check.totp_secret is not None and step is not None:
            row.totp_secret = check.totp_secret
            row.totp_last_step = step
        # a new password ends every session that the old one opened
        session.execute(delete(StaffSession).where(StaffSession.staff_id == row.id))
        audit.record(session, actor_of(row, client), "password_set", now=now)
    return {}
