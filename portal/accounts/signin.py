"""Sign-in by e-mailed code: a 6-digit code and a one-click link, for listed contacts.

``start`` answers the same way for every address: a pending sign-in row is written,
the mail is rendered and checked for everyone, and it is queued only when the address
is a listed contact (of the account given, or of any account). The pending sign-in is
bound to the browser that asked: the view gives it a random value in a cookie
(``customer_sessions.PENDING_COOKIE``) and the row keeps a keyed hash of it, so the
code and the link work only in that browser. Both work once and for
``CODE_MINUTES``; codes and link tokens are stored as keyed hashes.

Every code attempt counts toward the rate limits (``PORTAL_RATE_LIMITS``, scope
``signin-code``, per address and per client), and a pending sign-in is void after
``MAX_FAILURES`` wrong codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal import inputs, notify, ratelimit, urls
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Account, AuditEntry, Contact, SigninRequest
from portal.directory import customer_sessions
from portal.directory.normalise import account_key, looks_like_account
from portal.tickets import outbox

log = logging.getLogger("portal.accounts")

CODE_MINUTES = 10
CODE_DIGITS = 6
MAX_FAILURES = 5  # wrong codes before a pending sign-in is void
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_CODE = re.compile(r"[0-9]{6}")

SENT = (
    "If this address is listed as a contact of the account, we have sent it a 6-digit "
    "code and a link to sign in. Both work once, only in this browser, for "
    f"{CODE_MINUTES} minutes."
)
THROTTLED = (
    "Too many sign-in attempts were made from here or for this address recently. "
    "Please wait a while and try again."
)
WRONG = (
    "That code did not work. Check the latest mail we sent and type its 6 digits; "
    "a code works once, for {minutes} minutes, in the browser where you asked for it."
)
OTHER_BROWSER = (
    "This sign-in link works only in the browser where you asked for it. Open it there, "
    "or type the 6-digit code from the mail there, or ask for a new code here."
)


def _keyed(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def browser_key(settings: Settings, browser_token: str) -> str:
    """The stored form of a browser's pending-sign-in cookie value."""
    return _keyed(settings.secret_key, "signin-browser", browser_token)


def _code_hash(settings: Settings, request_id: str, code: str) -> str:
    return _keyed(settings.secret_key, "signin-code:" + request_id, code)


def _link_hash(settings: Settings, token: str) -> str:
    return _keyed(settings.secret_key, "signin-link", token)


def clean_email(text: str) -> str:
    return text.strip().lower()


def email_problem(email: str) -> str:
    if not email or len(email) > 254 or not _EMAIL.match(email) or inputs.problem(email):
        return "Enter the email address listed as a contact on your account."
    return ""


def account_problem(account: str) -> str:
    if account.strip() and (not looks_like_account(account) or inputs.problem(account)):
        return "Enter your account id as on your invoice, for example HH-10234, or leave it empty."
    return ""


@dataclass(frozen=True)
class Listing:
    """One account on which an address is a listed contact."""

    account_id: str
    account_name: str
    contact_name: str
    role: str


def listings(session: Session, email: str, key: str = "") -> list[Listing]:
    """The accounts on which ``email`` is a listed contact (only the account whose
    comparison key is ``key``, when given), by account id."""
    rows = session.execute(
        select(Account.id, Account.name, Contact.name, Contact.role)
        .join(Contact, Contact.account_id == Account.id)
        .where(Contact.email == email)
        .order_by(Account.id)
    ).all()
    found = [Listing(a, n, c, r) for a, n, c, r in rows]
    return [item for item in found if not key or account_key(item.account_id) == key]


@dataclass
class Started:
    message: str
    throttled: bool = False
    errors: dict[str, str] = field(default_factory=dict)


def start(
    db: Database,
    policy: Policy,
    settings: Settings,
    email: str,
    account: str,
    *,
    browser_token: str,
    client: str,
    now: dt.datetime,
) -> Started:
    """Ask for a sign-in code for ``email`` (and the account id ``account``, "" for any
    account). The same checks, work and answer for every address; only a listed
    contact is mailed. Every attempt counts toward the rate limits."""
    email = clean_email(email)
    errors = {
        k: v
        for k, v in (("email", email_problem(email)), ("account", account_problem(account)))
        if v
    }
    if errors:
        return Started("Please correct the form below.", errors=errors)
    key = account_key(account)
    request_id = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    link_token = secrets.token_urlsafe(32)
    limiter = ratelimit.limiter_for(settings)
    with db.session() as session:
        if not limiter.acquire(session, scope="signin", address=email, client=client, now=now):
            return Started(THROTTLED, throttled=True)
        try:
            found = listings(session, email, key)
        except OperationalError:
            raise
        except Exception:  # a directory row that cannot be read: answer as for anyone
            log.exception("sign-in: the directory lookup failed")
            found = []
        name = found[0].contact_name if found else None
        mail = notify.signin(
            policy,
            to=email,
            name=name,
            code=code,
            link=urls.signin_link(settings.base_url, link_token),
            minutes=CODE_MINUTES,
        )
        session.add(
            SigninRequest(
                id=request_id,
                email=email,
                account_key=key,
                browser=browser_key(settings, browser_token),
                code_hash=_code_hash(settings, request_id, code),
                link_hash=_link_hash(settings, link_token),
                listed=bool(found),
                failures=0,
                created_at=now,
                expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
            )
        )
        # an older pending sign-in of this browser for this address no longer works
        session.execute(
            update(SigninRequest)
            .where(
                SigninRequest.email == email,
                SigninRequest.browser == browser_key(settings, browser_token),
                SigninRequest.id != request_id,
                SigninRequest.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.flush()  # the work every address shares
        try:
            with session.begin_nested():
                if found:
                    problem = inputs.problem(mail.subject) or inputs.problem(
                        mail.body, multiline=True
                    )
                    if problem:
                        raise ValueError(f"the sign-in mail cannot be sent: {problem}")
                    outbox.enqueue(session, mail)
                else:
                    session.add(
                        AuditEntry(
                            at=now,
                            kind="signin_unlisted",
                            account_id=key,
                            email=email,
                            detail="asked for a sign-in code; nothing sent",
                        )
                    )
        except Exception:  # the answer must not tell which path failed
            log.exception("sign-in: the %s path failed", "listed" if found else "unlisted")
    return Started(SENT)


@dataclass
class Verified:
    """What a code or link did: signed in (``token`` for the sign-in cookie), or found
    several accounts to pick from, or failed with ``problem``."""

    token: str | None = None
    email: str = ""
    listing: Listing | None = None
    choices: list[Listing] = field(default_factory=list)
    problem: str = ""
    throttled: bool = False
    other_browser: bool = False

    @property
    def ok(self) -> bool:
        return self.token is not None


def _pending(
    session: Session, settings: Settings, email: str, browser_token: str, now: dt.datetime
) -> SigninRequest | None:
    """This browser's newest pending sign-in for ``email`` that can still be used."""
    return session.scalars(
        select(SigninRequest)
        .where(
            SigninRequest.email == email,
            SigninRequest.browser == browser_key(settings, browser_token),
            SigninRequest.used_at.is_(None),
            SigninRequest.expires_at > now,
        )
        .order_by(SigninRequest.created_at.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _complete(
    session: Session,
    settings: Settings,
    row: SigninRequest,
    *,
    now: dt.datetime,
    account_id: str = "",
) -> Verified:
    """A verified sign-in: one account signs in at once; several wait for a pick."""
    found = listings(session, row.email, row.account_key)
    if account_id and len(found) > 1:
        picked = [item for item in found if item.account_id == account_id]
        if not picked:  # not one of the choices: ask again
            row.verified_at = row.verified_at or now
            return Verified(choices=found, email=row.email)
        found = picked
    if not found:
        row.used_at = now
        return Verified(problem=WRONG.format(minutes=CODE_MINUTES))
    if len(found) > 1:
        row.verified_at = row.verified_at or now
        return Verified(choices=found, email=row.email)
    row.used_at = now
    token = customer_sessions.create(
        session, settings, account_id=found[0].account_id, email=row.email, now=now
    )
    return Verified(token=token, email=row.email, listing=found[0])


def verify_code(
    db: Database,
    settings: Settings,
    email: str,
    code: str,
    *,
    browser_token: str,
    client: str,
    now: dt.datetime,
    account_id: str = "",
) -> Verified:
    """Check a typed code against this browser's pending sign-in for ``email``. The
    same answer for a wrong code, an unlisted address, an expired or used code."""
    email = clean_email(email)
    code = re.sub(r"\s+", "", code)
    wrong = Verified(problem=WRONG.format(minutes=CODE_MINUTES))
    limiter = ratelimit.limiter_for(settings)
    with db.session() as session:
        address = email if not email_problem(email) else None
        if not limiter.acquire(
            session, scope="signin-code", address=address, client=client, now=now
        ):
            return Verified(problem=THROTTLED, throttled=True)
        if address is None or not browser_token:
            return wrong
        row = _pending(session, settings, email, browser_token, now)
        if row is None:
            return wrong
        good = _CODE.fullmatch(code) is not None and hmac.compare_digest(
            row.code_hash, _code_hash(settings, row.id, code)
        )
        if not good or not row.listed:
            row.failures += 1
            if row.failures >= MAX_FAILURES:
                row.used_at = now
            return wrong
        return _complete(session, settings, row, now=now, account_id=account_id)


def verify_link(
    db: Database, settings: Settings, token: str, *, browser_token: str, now: dt.datetime
) -> Verified:
    """The e-mailed one-click link: signs in only in the browser that asked (in another
    browser it is refused and stays usable where it belongs)."""
    wrong = Verified(
        problem="This sign-in link is not valid any more: it works once, for "
        f"{CODE_MINUTES} minutes. Ask for a new code."
    )
    if not token or len(token) > 100:
        return wrong
    with db.session() as session:
        row = session.scalars(
            select(SigninRequest)
            .where(SigninRequest.link_hash == _link_hash(settings, token))
            .with_for_update()
        ).first()
        if row is None or row.used_at is not None or row.expires_at <= now or not row.listed:
            return wrong
        if not browser_token or not hmac.compare_digest(
            row.browser, browser_key(settings, browser_token)
        ):
            return Verified(problem=OTHER_BROWSER, other_browser=True)
        return _complete(session, settings, row, now=now)


def pick(
    db: Database,
    settings: Settings,
    email: str,
    account_id: str,
    *,
    browser_token: str,
    now: dt.datetime,
) -> Verified:
    """Sign in to one of the accounts of a verified sign-in (a contact listed on
    several accounts picks one)."""
    email = clean_email(email)
    with db.session() as session:
        row = _pending(session, settings, email, browser_token, now) if browser_token else None
        if row is None or row.verified_at is None:
            return Verified(problem="This sign-in has expired. Ask for a new code.")
        return _complete(session, settings, row, now=now, account_id=account_id)
