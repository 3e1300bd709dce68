"""Rate limits under concurrency: a real uvicorn with 2 worker processes, 20 (and 30)
requests at the same moment, on SQLite, PostgreSQL and Redis (the counters in Redis
through the ``limits`` library). Exactly the limit is accepted and exactly that many
verification mails are queued and delivered to a real SMTP server."""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from sqlalchemy import func, select

from kb.policy import load_policy
from portal.db.engine import Database
from portal.db.models import Outbox, RateHit
from portal.directory import importer as accounts
from tests.support.databases import REDIS, new_database_url, redis_url_or_skip
from tests.support.mail import MailServer
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server

pytestmark = pytest.mark.slow  # 3 servers with 2 workers each
PER_ADDRESS, PER_CLIENT = 5, 20  # the defaults of PORTAL_RATE_LIMITS
ADDRESS = "anna@lindqvist.example"  # a listed contact: every accepted request mails it
BURST_ACCOUNTS = 6  # 6 accounts x 5 contacts: 30 listed addresses for the per-client burst


def payload(email: str, account: str) -> dict[str, Any]:
    return {
        "text": "my mailbox does not receive mail",
        "request_type": "email-not-working",
        "account": account,
        "email": email,
        "plan": "standard",
        "role": "primary",
        "priority": "high",
        "details": {
            "mailbox": "info@lindqvist.example",
            "error_message": "550 mailbox unavailable",
            "occurred_at": "2026-01-05T09:40",
            "doing": "sending a test",
        },
    }


def burst_contacts() -> list[tuple[str, str]]:
    return [
        (f"c{n}@burst{a}.example", f"HH-9{a:04d}") for a in range(BURST_ACCOUNTS) for n in range(5)
    ]


def burst_directory(path: Path) -> Path:
    roles = ["primary", "secondary", "authorised", "authorised", "authorised"]
    data = {
        "accounts": [
            {
                "id": f"HH-9{a:04d}",
                "name": f"Burst {a}",
                "plan": "standard",
                "contacts": [
                    {"email": f"c{n}@burst{a}.example", "name": f"Contact {n}", "role": roles[n]}
                    for n in range(5)
                ],
            }
            for a in range(BURST_ACCOUNTS)
        ]
    }
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "redis"])
def portal(
    request: pytest.FixtureRequest, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A migrated database with the directory imported, a real SMTP server and a real
    uvicorn with 2 workers; with ``redis`` the counters live in Redis under a prefix of
    this run's own."""
    tmp = tmp_path_factory.mktemp(f"limits-{request.param}")
    env: dict[str, str] = {}
    prefix = f"portal-test-{secrets.token_hex(6)}"
    if request.param == "redis":
        env["PORTAL_REDIS_URL"] = redis_url_or_skip() + f"?key_prefix={prefix}"
    kind = "postgresql" if request.param == "postgresql" else "sqlite"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(new_database_url(kind, tmp))
        db = Database(url)
        stack.callback(db.dispose)
        db.upgrade()
        policy, _ = load_policy(CONTENT / "policy.yaml")
        assert policy is not None
        for directory in (EXAMPLES / "accounts.yaml", burst_directory(tmp / "burst.yaml")):
            assert not accounts.import_file(db, policy, directory).errors
        mail = MailServer().start()
        stack.callback(mail.stop)
        if request.param == "redis":
            stack.callback(forget_redis_keys, prefix)
        server = start_server(
            {
                **env,
                "PORTAL_DATABASE_URL": url,
                "PORTAL_BUILD_DIR": str(demo_build),
                "PORTAL_CONTENT_DIR": str(CONTENT),
                "PORTAL_UPLOAD_DIR": str(tmp / "uploads"),
                "PORTAL_SECRET_KEY": "limits-" + secrets.token_hex(8),
                "PORTAL_RATE_LIMITS": f"{PER_ADDRESS}/3600,{PER_CLIENT}/3600",
                "PORTAL_SMTP_URL": mail.url,
            },
            timeout=60,
            workers=2,
        )
        stack.enter_context(server)  # stopped first
        yield {
            "server": server,
            "db": db,
            "mail": mail,
            "backend": request.param,
            "prefix": prefix,
        }


def forget_redis_keys(prefix: str) -> None:
    connection = redis.Redis.from_url(REDIS)
    for key in connection.scan_iter(f"{prefix}:*"):
        connection.delete(key)
    connection.close()


def post_at_once(server: LiveServer, bodies: list[dict[str, Any]], *, source: str) -> list[int]:
    """POST every body to /api/requests at the same moment, each on its own connection
    from ``source`` (the client address the server sees)."""
    host, port = server.url.removeprefix("http://").split(":")
    connections = [
        http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
        for _ in bodies
    ]
    for connection in connections:
        connection.connect()
    start = threading.Barrier(len(bodies))
    statuses: list[int] = [0] * len(bodies)

    def send(i: int) -> None:
        start.wait()
        connections[i].request(
            "POST",
            "/api/requests",
            body=json.dumps(bodies[i]),
            headers={"Content-Type": "application/json"},
        )
        response = connections[i].getresponse()
        response.read()
        statuses[i] = response.status

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    for connection in connections:
        connection.close()
    return statuses


def verify_rows(db: Database, recipients: set[str]) -> int:
    with db.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.purpose == "verify", Outbox.recipient.in_(recipients))
        )
        return int(count or 0)


def counted_where(portal: dict[str, Any], scope: str) -> tuple[int, int]:
    """(rows in rate_hits, keys in Redis under this run's prefix) for ``scope``."""
    with portal["db"].session() as session:
        rows = int(
            session.scalar(select(func.count()).select_from(RateHit).where(RateHit.scope == scope))
            or 0
        )
    connection = redis.Redis.from_url(REDIS)
    try:
        keys = len(list(connection.scan_iter(f"{portal['prefix']}:*")))
    finally:
        connection.close()
    return rows, keys


def delivered_mails(portal: dict[str, Any], recipients: set[str], expected: int) -> int:
    """Mails that reached the SMTP server once the outbox has delivered everything."""
    db: Database = portal["db"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.session() as session:
            waiting = session.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.recipient.in_(recipients), Outbox.delivered_at.is_(None))
            )
        if not waiting:
            break
        time.sleep(0.1)
    inbox = portal["mail"].inbox
    return sum(len(inbox.to(r)) for r in recipients)


def test_per_address_limit_holds_under_a_burst(portal: dict[str, Any]) -> None:
    """20 requests for one listed address at once: exactly PORTAL_RATE_LIMITS' first
    count get 202, the rest 429, and exactly that many verification mails go out."""
    statuses = post_at_once(
        portal["server"], [payload(ADDRESS, "HH-10234") for _ in range(20)], source="127.0.0.1"
    )
    print(portal["backend"], "per address:", Counter(statuses))
    assert Counter(statuses) == {202: PER_ADDRESS, 429: 20 - PER_ADDRESS}
    assert verify_rows(portal["db"], {ADDRESS}) == PER_ADDRESS
    assert delivered_mails(portal, {ADDRESS}, PER_ADDRESS) == PER_ADDRESS
    rows, keys = counted_where(portal, "filing:address")
    if portal["backend"] == "redis":  # the counters really are in Redis
        assert rows == 0 and keys == 2  # one for the address, one for the client
    else:  # one row per accepted attempt, none for the throttled ones
        assert rows == PER_ADDRESS and keys == 0


def test_per_client_limit_holds_under_a_burst(portal: dict[str, Any]) -> None:
    """30 requests at once from one client, each for another listed address: exactly
    the per-client count get 202 and exactly that many mails go out."""
    contacts = burst_contacts()
    statuses = post_at_once(
        portal["server"],
        [payload(email, account) for email, account in contacts],
        source="127.0.0.2",  # another client than the per-address test
    )
    print(portal["backend"], "per client:", Counter(statuses))
    recipients = {email for email, _ in contacts}
    assert Counter(statuses) == {202: PER_CLIENT, 429: len(contacts) - PER_CLIENT}
    assert verify_rows(portal["db"], recipients) == PER_CLIENT
    assert delivered_mails(portal, recipients, PER_CLIENT) == PER_CLIENT
