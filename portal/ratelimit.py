"""Rate limits, per address and per client (``PORTAL_RATE_LIMITS``), for filing
submissions and anything else that mails someone on a stranger's request.

One interface, two implementations:

- ``DatabaseLimiter`` (the default) keeps one ``rate_hits`` row per counted attempt and
  runs inside the caller's transaction, so the check and the insert are one atomic
  step. On SQLite that transaction starts with ``BEGIN IMMEDIATE``
  (``portal/db/engine.py``): it holds the database's write lock from its first
  statement, so a second process waits until the first has committed. On PostgreSQL
  the transaction first takes an advisory transaction lock on each key (in a fixed
  order, so two transactions never wait for each other in a cycle); the counts that
  follow see every row committed before the lock was granted (READ COMMITTED takes a
  new snapshot per statement).
- ``RedisLimiter`` (when ``PORTAL_REDIS_URL`` is set, for several machines) keeps the
  counters in Redis with the ``limits`` library's moving window, whose check-and-add
  is one Lua script on the server. The client is counted first, then the address: an
  attempt refused by the per-address limit still uses one of the client's attempts.

Keys are keyed hashes (``client_key``) of the address and the client: neither is
stored in the clear by the limiter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import urllib.parse
from typing import Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.db.models import RateHit

_PG_LOCK_CLASS = 7_246_662  # the first key of every rate-limit advisory lock


class Unavailable(Exception):
    """The rate-limit store cannot be reached: nothing was counted or sent."""


def client_key(secret: str, client: str) -> str:
    """A client address reduced to a keyed hash: enough to rate-limit, not to identify."""
    return hashlib.sha256(f"{secret}:{client}".encode()).hexdigest()[:32]


class RateLimiter(Protocol):
    def acquire(
        self,
        session: Session,
        *,
        scope: str,
        address: str | None,
        client: str,
        now: dt.datetime,
    ) -> bool:
        """Count one attempt of ``scope`` (e.g. ``filing``) for ``address`` (None: no
        usable address, only the client counts) and ``client``; False, and nothing
        counted by the database limiter, when either is over its limit. Called inside
        the transaction that does the work the attempt asks for."""
        ...


def _lock_id(key: str) -> int:
    """A signed 32-bit id for ``pg_advisory_xact_lock(class, id)``."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


class DatabaseLimiter:
    def __init__(
        self, secret: str, per_address: tuple[int, int], per_client: tuple[int, int]
    ) -> None:
        self.secret = secret
        self.per_address = per_address
        self.per_client = per_client

    def acquire(
        self,
        session: Session,
        *,
        scope: str,
        address: str | None,
        client: str,
        now: dt.datetime,
    ) -> bool:
        keys = [(f"{scope}:client", client_key(self.secret, client), self.per_client)]
        if address is not None:
            keys.append((f"{scope}:address", client_key(self.secret, address), self.per_address))
        if session.get_bind().dialect.name == "postgresql":
            for lock in sorted({_lock_id(f"{name}:{key}") for name, key, _ in keys}):
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                    {"cls": _PG_LOCK_CLASS, "key": lock},
                )
        # SQLite: this transaction began with BEGIN IMMEDIATE and holds the write lock
        for name, key, (limit, seconds) in keys:
            since = now - dt.timedelta(seconds=seconds)
            where = (RateHit.scope == name, RateHit.key == key)
            session.execute(delete(RateHit).where(*where, RateHit.at < since))  # expired
            used = session.scalar(
                select(func.count()).select_from(RateHit).where(*where, RateHit.at >= since)
            )
            if int(used or 0) >= limit:
                return False
        for name, key, _limit in keys:
            session.add(RateHit(scope=name, key=key, at=now))
        session.flush()
        return True


def split_redis_url(url: str) -> tuple[str, str]:
    """``redis://host:6379/0?key_prefix=NAME`` -> (the URL without it, NAME or "portal")."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "key_prefix"), "") or "portal"
    rest = urllib.parse.urlencode([(k, v) for k, v in query if k != "key_prefix"])
    return urllib.parse.urlunsplit(parts._replace(query=rest)), prefix


class RedisLimiter:
    def __init__(
        self, url: str, secret: str, per_address: tuple[int, int], per_client: tuple[int, int]
    ) -> None:
        from limits import RateLimitItemPerSecond
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        plain, prefix = split_redis_url(url)
        self.secret = secret
        self.storage = storage_from_string(
            plain,
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=5,
            socket_connect_timeout=5,
        )
        self.window = MovingWindowRateLimiter(self.storage)
        self.address_item = RateLimitItemPerSecond(per_address[0], per_address[1])
        self.client_item = RateLimitItemPerSecond(per_client[0], per_client[1])

    def acquire(
        self,
        session: Session,
        *,
        scope: str,
        address: str | None,
        client: str,
        now: dt.datetime,
    ) -> bool:
        from limits.errors import StorageError

        try:
            hashed = client_key(self.secret, client)
            if not self.window.hit(self.client_item, scope, "client", hashed):
                return False
            if address is None:
                return True
            hashed = client_key(self.secret, address)
            return self.window.hit(self.address_item, scope, "address", hashed)
        except StorageError as exc:
            raise Unavailable(str(exc)) from exc


_redis_limiters: dict[tuple[str, str, tuple[int, int], tuple[int, int]], RedisLimiter] = {}
_redis_lock = threading.Lock()


def limiter_for(settings: Settings) -> RateLimiter:
    """The limiter the settings ask for; one Redis connection pool per process."""
    if not settings.redis_url:
        return DatabaseLimiter(
            settings.secret_key, settings.rate_limit_address, settings.rate_limit_client
        )
    key = (
        settings.redis_url,
        settings.secret_key,
        settings.rate_limit_address,
        settings.rate_limit_client,
    )
    with _redis_lock:
        limiter = _redis_limiters.get(key)
        if limiter is None:
            limiter = _redis_limiters[key] = RedisLimiter(
                settings.redis_url,
                settings.secret_key,
                settings.rate_limit_address,
                settings.rate_limit_client,
            )
        return limiter
