"""Load scenario: search-as-you-type, article views, wizard steps and filings against a
real uvicorn on 127.0.0.1, first with the SQLite default (one process), then with
PostgreSQL and two processes. Bounded in time and requests; stops by itself.

    python bench/load.py [--seconds 20] [--users 8] [--only sqlite|postgresql]

Reports throughput, p50/p95/p99 per kind of request, errors, and tickets lost: filings
the server acknowledged (200 with a ticket number) that are not in the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402

from kb.build import build  # noqa: E402
from kb.policy import load_policy  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db.engine import Database  # noqa: E402
from portal.db.models import PendingRequest, Ticket  # noqa: E402
from portal.directory import importer as accounts  # noqa: E402
from portal.kb.building import build_options  # noqa: E402
from portal.tickets import tokens  # noqa: E402
from portal.tickets.filing import submit  # noqa: E402
from tests.support.factories import reviewed_draft  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

SECRET = "load-test-secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBER = re.compile(r"(T-[0-9A-Z]{4}-[0-9A-Z]{4})")
QUERIES = [
    "password",
    "email not working",
    "cancel server",
    "reboot",
    "dns",
    "wordpress",
    "firewall",
    "backup",
    "licence",
    "website error",
    "upload permission",
    "ftp login",
]
ARTICLES = [
    "email-not-working",
    "lost-admin-password",
    "support-plans",
    "paid-support-rates",
    "server-cancellation",
    "website-not-loading",
    "dns-nameserver-changes",
]
MAX_REQUESTS = 50_000


class User:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def call(
        self,
        method: str,
        path: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.acknowledged: list[str] = []
        self.count = 0

    def timed(self, kind: str, fn: Any, ok: tuple[int, ...] = (200, 303)) -> tuple[int, str]:
        started = time.perf_counter()
        try:
            status, body = fn()
        except OSError:
            status, body = 0, ""
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.count += 1
            self.times[kind].append(elapsed)
            if status not in ok:
                self.errors[kind] += 1
        return status, body


def scenario(
    user: User, rec: Recorder, pending: list[str], deadline: float, rnd: random.Random
) -> None:
    status, page = rec.timed("wizard", lambda: user.call("GET", "/request"))
    match = CSRF.search(page)
    csrf = match.group(1) if match else ""
    while time.monotonic() < deadline and rec.count < MAX_REQUESTS:
        roll = rnd.random()
        if roll < 0.45:  # search as you type: prefixes of a query, as htmx sends them
            q = rnd.choice(QUERIES)
            for end in range(3, len(q) + 1, 3):
                rec.timed(
                    "search",
                    lambda q=q, end=end: user.call(
                        "GET",
                        "/search?" + urllib.parse.urlencode({"q": q[:end]}),
                        headers={"HX-Request": "true"},
                    ),
                )
        elif roll < 0.75:
            rec.timed("article", lambda: user.call("GET", f"/articles/{rnd.choice(ARTICLES)}.html"))
        elif roll < 0.92:  # a wizard run up to review
            steps: list[tuple[str, dict[str, str]]] = [
                ("/request", {"text": "my mailbox does not receive mail"}),
                (
                    "/request/choose",
                    {
                        "request_type": "email-not-working",
                        "account": "HH-10234",
                        "email": "anna@lindqvist.example",
                        "plan": "standard",
                        "role": "primary",
                        "tz": "Europe/Berlin",
                    },
                ),
                ("/request/coverage", {}),
                (
                    "/request/details",
                    {
                        "detail_mailbox": "a@lindqvist.example",
                        "detail_error_message": "550",
                        "detail_occurred_at": "2026-01-05T09:40",
                        "detail_doing": "sending",
                        "priority": "high",
                    },
                ),
            ]
            for path, fields in steps:
                _, page = rec.timed(
                    "wizard",
                    lambda path=path, fields={"csrf_token": csrf, **fields}: user.call(
                        "POST", path, fields
                    ),
                )
                # the session id (and with it the CSRF token) rotates once an address
                # is entered: the next form's token is on the page the POST led to
                if match := CSRF.search(page):
                    csrf = match.group(1)
            rec.timed("wizard", lambda: user.call("GET", "/request/review"))
        else:  # following an emailed link: file a ticket
            with rec.lock:
                pid = pending.pop() if pending else None
            if pid is None:
                continue
            token = tokens.make(SECRET, tokens.FILE_REQUEST, pid)
            status, body = rec.timed(
                "filing",
                lambda fields={"csrf_token": csrf, "token": token}: user.call(
                    "POST", "/request/confirm", fields
                ),
                ok=(200,),
            )
            if status == 200 and (m := NUMBER.search(body)):
                with rec.lock:
                    rec.acknowledged.append(m.group(1))


def make_pending(settings: Settings, n: int) -> list[str]:
    db = Database(settings.database_url)
    db.upgrade()
    policy, _ = load_policy(settings.policy_file)
    assert policy is not None
    accounts.import_file(db, policy, ROOT / "examples/accounts.yaml")
    data = reviewed_draft(text="mail").to_json()
    now = dt.datetime.now(dt.UTC)
    for i in range(n):
        submit(db, policy, settings, data, client=f"load-{i}", now=now)
    with db.session() as session:
        ids = list(session.scalars(select(PendingRequest.id).where(PendingRequest.listed)))
    db.dispose()
    return ids


def run(
    label: str, database_url: str, workers: int, seconds: float, users: int, build_dir: Path
) -> dict[str, Any]:
    settings = Settings.from_env(
        content_dir=ROOT / "content",
        build_dir=build_dir,
        database_url=database_url,
        secret_key=SECRET,
        rate_limit_address=(10**6, 3600),
        rate_limit_client=(10**6, 3600),
    )
    pending = make_pending(settings, 400)
    env = {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_BUILD_DIR": str(build_dir),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_RATE_LIMITS": "1000000/3600,1000000/3600",
    }
    with start_server(env, workers=workers, log_level="error", timeout=60) as server:
        rec = Recorder()
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=scenario, args=(User(server.url), rec, pending, deadline, random.Random(i))
            )
            for i in range(users)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 60)
        elapsed = time.monotonic() - started
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(select(Ticket.number))}
        integrity = (
            conn.execute(text("PRAGMA integrity_check")).scalar()
            if database_url.startswith("sqlite")
            else "n/a"
        )
    engine.dispose()
    lost = sorted(set(rec.acknowledged) - stored)
    return {
        "label": label,
        "workers": workers,
        "elapsed": elapsed,
        "rec": rec,
        "lost": lost,
        "integrity": integrity,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| setup | kind | requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rec: Recorder = r["rec"]
        total = sum(len(v) for v in rec.times.values())
        for kind in sorted(rec.times):
            values = rec.times[kind]
            lines.append(
                f"| {r['label']} ({r['workers']} proc) | {kind} | {len(values)} | "
                f"{len(values) / r['elapsed']:.1f} | {statistics.median(values):.1f} | "
                f"{pct(values, 0.95):.1f} | {pct(values, 0.99):.1f} | {rec.errors[kind]} |"
            )
        all_values = [v for vs in rec.times.values() for v in vs]
        lines.append(
            f"| {r['label']} ({r['workers']} proc) | **all** | {total} | "
            f"{total / r['elapsed']:.1f} | "
            f"{statistics.median(all_values):.1f} | {pct(all_values, 0.95):.1f} | "
            f"{pct(all_values, 0.99):.1f} | {sum(rec.errors.values())} |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f"- {r['label']}: {len(r['rec'].acknowledged)} filings acknowledged, "
            f"**{len(r['lost'])} lost**; integrity_check: {r['integrity']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-load-"))
    build_dir = work / "build"
    build(build_options(Settings.from_env(content_dir=ROOT / "content", build_dir=build_dir)))
    results = []
    if args.only in (None, "sqlite"):
        results.append(
            run("SQLite", f"sqlite:///{work}/portal.db", 1, args.seconds, args.users, build_dir)
        )
    if args.only in (None, "postgresql"):
        schema = "load_" + secrets.token_hex(4)
        base = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            results.append(
                run(
                    "PostgreSQL",
                    f"{base}?options=-csearch_path%3D{schema}",
                    2,
                    args.seconds,
                    args.users,
                    build_dir,
                )
            )
        finally:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()
    text_report = report(results)
    print(text_report)
    out = ROOT / "bench" / "results" / "load.md"
    out.write_text(
        f"# Load test ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{args.users} users, {args.seconds:g} s each)\n\n{text_report}\n"
    )


if __name__ == "__main__":
    main()
