"""Staff sign-in and sessions.

- Throttled per account and per client (``PORTAL_STAFF_LOGIN_LIMITS``) with the
  portal's rate limiter (``portal.ratelimit.limiter_for``: the database, or
  Redis for several machines); every attempt counts.
- Locked after ``PORTAL_STAFF_LOCKOUT`` failures in a row (password or code) for the
  seconds given; a success resets the count. An unknown address costs the same
  argon2 verification as a wrong password.
- Admins also give a TOTP code when ``PORTAL_STAFF_TOTP=1``; a code works once.
- A session is a ``staff_sessions`` row keyed by the SHA-256 of a random cookie value:
  a new one at every sign-in (the browser's old one is deleted: rotation), ending
  after ``PORTAL_STAFF_IDLE_MINUTES`` without a request or MAX_SESSION_HOURS after
  sign-in, at sign-out, when the account is disabled or its password is set again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from portal import notify, ratelimit
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import StaffSession, StaffUser
from portal.staff import audit, passwords
from portal.staff.accounts import actor_of, normalise_email, totp_required, totp_step
from portal.tickets import outbox

MAX_SESSION_HOURS = 12
TOUCH_SECONDS = 30  # last_seen_at is written at most this often per session
WRONG = "The e-mail address, password or code is not right."


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _limiter(settings: Settings) -> ratelimit.RateLimiter:
    return ratelimit.limiter_for(
        dataclasses.replace(
            settings,
            rate_limit_address=settings.staff_login_account,
            rate_limit_client=settings.staff_login_client,
        )
    )


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None  # the new session's cookie value
    staff: StaffUser | None = None
    error: str = ""
    needs_code: bool = False  # the password was right: ask for the TOTP code
    status: int = 200


def login(
    db: Database,
    settings: Settings,
    email: str,
    password: str,
    *,
    code: str = "",
    client: str,
    old_token: str | None = None,
    now: dt.datetime,
) -> LoginResult:
    email = normalise_email(email)[:254]
    client_key = ratelimit.client_key(settings.secret_key, client)
    anonymous = audit.Actor(None, email, "", client=client_key)
    limiter = _limiter(settings)
    with db.session() as session:
        if not limiter.acquire(session, scope="staff-login", address=email, client=client, now=now):
            audit.record(session, anonymous, "login_throttled", now=now)
            return LoginResult(
                error="Too many sign-in attempts. Wait a few minutes and try again.",
                status=429,
            )
        staff = session.scalars(select(StaffUser).where(StaffUser.email == email)).first()
        if staff is None or not staff.active or staff.password_hash is None:
            passwords.verify(None, password)  # the same work as for a real account
            audit.record(session, anonymous, "login_failed", now=now, detail="unknown or disabled")
            return LoginResult(error=WRONG, status=401)
        actor = actor_of(staff, client_key)
        if staff.locked_until is not None and staff.locked_until > now:
            # the same answer as a wrong password: a lockout must not tell a guesser that
            # the address is a staff account (its owner learns of it by mail)
            passwords.verify(staff.password_hash, password)
            audit.record(session, actor, "login_locked", now=now)
            return LoginResult(error=WRONG, status=401)
        failure = ""
        step: int | None = None
        if not passwords.verify(staff.password_hash, password):
            failure = "wrong password"
        elif totp_required(settings, staff):
            if staff.totp_secret is None:
                audit.record(session, actor, "login_failed", now=now, detail="no TOTP enrolled")
                return LoginResult(
                    error=(
                        "Admins need an authenticator app now. Ask an admin for a new "
                        "set-password link (portal staff reset) to set one up."
                    ),
                    status=403,
                )
            if not code.strip():
                return LoginResult(needs_code=True, status=200)
            step = totp_step(staff.totp_secret, code, now, staff.totp_last_step)
            if step is None:
                failure = "wrong code"
        if failure:
            staff.failed_logins += 1
            limit, seconds = settings.staff_lockout
            if staff.failed_logins >= limit:
                staff.failed_logins = 0
                staff.locked_until = now + dt.timedelta(seconds=seconds)
                audit.record(session, actor, "locked", now=now, detail=failure)
                outbox.enqueue(
                    session,
                    notify.staff_locked(
                        staff.email, name=staff.name, until=staff.locked_until, failures=limit
                    ),
                )
            else:
                audit.record(session, actor, "login_failed", now=now, detail=failure)
            return LoginResult(error=WRONG, needs_code=failure == "wrong code", status=401)
        if step is not None:
            staff.totp_last_step = step
        if passwords.needs_rehash(staff.password_hash):
            staff.password_hash = passwords.hash_password(password)
        staff.failed_logins = 0
        staff.locked_until = None
        staff.last_login_at = now
        if old_token:  # rotation: whatever this browser held before is gone
            session.execute(delete(StaffSession).where(StaffSession.id == session_key(old_token)))
        token = secrets.token_urlsafe(32)
        session.add(
            StaffSession(id=session_key(token), staff_id=staff.id, created_at=now, last_seen_at=now)
        )
        audit.record(session, actor, "login", now=now)
        return LoginResult(token=token, staff=staff)


def current(
    db: Database, settings: Settings, token: str | None, *, now: dt.datetime
) -> StaffUser | None:
    """The signed-in staff member of a session cookie, or None when there is no such
    session, it has been idle too long or is too old, or the account is disabled."""
    if not token:
        return None
    key = session_key(token)
    with db.session() as session:
        row = session.get(StaffSession, key)
        if row is None:
            return None
        idle = dt.timedelta(minutes=settings.staff_idle_minutes)
        too_old = row.created_at + dt.timedelta(hours=MAX_SESSION_HOURS) <= now
        staff = session.get(StaffUser, row.staff_id)
        if row.last_seen_at + idle <= now or too_old or staff is None or not staff.active:
            session.delete(row)
            return None
        if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
            row.last_seen_at = now
        return staff


def logout(db: Database, token: str | None, *, client: str, now: dt.datetime) -> None:
    if not token:
        return
    with db.session() as session:
        row = session.get(StaffSession, session_key(token))
        if row is None:
            return
        staff = session.get(StaffUser, row.staff_id)
        session.delete(row)
        if staff is not None:
            audit.record(session, actor_of(staff, client), "logout", now=now)
