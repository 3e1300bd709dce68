"""Load scenario against a real uvicorn on 127.0.0.1, first with the SQLite default (one
process), then with PostgreSQL and two processes. Bounded in time and requests; stops by
itself.

    python bench/load.py [--seconds 20] [--users 8] [--agents 3] [--only sqlite|postgresql]

Customers search as they type, read articles, run the wizard and file requests. Staff
agents (created before the run through ``portal.staff.accounts``, their passwords set
through their one-time links) sign in with the form's CSRF token, refresh the queue
(the full page and the htmx partial), open tickets the customers filed and post
replies, and now and then an internal note.

Reports throughput and p50/p95/p99 per page, customer pages and staff pages apart,
errors, and that nothing is lost: every acknowledged filing (200 with a ticket number)
is a ticket; every acknowledged reply (303 back to the ticket) is in that ticket's
thread once, in the outbox once and delivered once to the SMTP server (aiosmtpd on
127.0.0.1); every note is in the thread once and in no mail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.cookiejar
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from kb.build import build  # noqa: E402
from kb.policy import load_policy  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db.engine import Database  # noqa: E402
from portal.db.models import Outbox, PendingRequest, Ticket, TicketEvent  # noqa: E402
from portal.directory import importer as accounts  # noqa: E402
from portal.kb.building import build_options  # noqa: E402
from portal.tickets import outbox, tokens  # noqa: E402
from portal.tickets.filing import submit  # noqa: E402
from tests.support.factories import reviewed_draft  # noqa: E402
from tests.support.mail import MailServer, body  # noqa: E402
from tests.support.servers import start_server  # noqa: E402
from tests.support.staff import PASSWORD, add_staff  # noqa: E402

SECRET = "load-test-secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBER = re.compile(r"(T-[0-9A-Z]{4}-[0-9A-Z]{4})")
STAFF_TICKET = re.compile(r'href="/staff/tickets/(T-[0-9A-Z]{4}-[0-9A-Z]{4})"')
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
# what an agent's queue refresh asks for: the default view and a few filters
QUEUE_FILTERS = ["", "status=active", "assigned=none", "priority=high", "replied=1"]
MAX_REQUESTS = 50_000
DRAIN_SECONDS = 60.0  # the longest wait for the outbox to deliver the run's replies
STAFF = "staff"
CUSTOMER = "customer"
LEGEND = """\
Written by `bench/load.py` (`make load`). The load generator runs on the same shared
machine as the server, so the times are noisy: compare pages within one run. An error is
an unexpected status (filings: not 200; sign-in and staff posts: not 303) or the wrong
page (the queue's htmx answer must be the `#queue-results` fragment alone, a ticket page
must name its ticket). Load averages are `os.getloadavg()` (1, 5, 15 minutes) just
before the server started and just after the last user stopped."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A staff browser's redirect is timed as the page it leads to, on its own."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class User:
    def __init__(self, base: str, *, follow_redirects: bool = True) -> None:
        self.base = base
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            urllib.request.ProxyHandler({}),  # 127.0.0.1 only, whatever the environment
        ]
        if not follow_redirects:
            handlers.append(_NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)
        self.location = ""  # the Location of the last answer

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
                self.location = r.headers.get("Location", "")
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            self.location = e.headers.get("Location", "")
            return e.code, e.read().decode()


@dataclass(frozen=True)
class Posted:
    number: str
    kind: str  # reply | note
    text: str


@dataclass
class Recorder:
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    acknowledged: list[str] = field(default_factory=list)  # ticket numbers filed
    posted: list[Posted] = field(default_factory=list)  # replies and notes acknowledged
    not_shown: list[Posted] = field(default_factory=list)  # not on the page it led to
    count: int = 0

    def timed(
        self,
        side: str,
        kind: str,
        fn: Any,
        ok: tuple[int, ...] = (200, 303),
        valid: Callable[[str], bool] | None = None,
    ) -> tuple[int, str]:
        """Time one request; an error is a status not in ``ok``, or a page that
        ``valid`` refuses (e.g. the whole page where htmx asked for a fragment)."""
        started = time.perf_counter()
        try:
            status, page = fn()
        except OSError:
            status, page = 0, ""
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.count += 1
            self.times[side, kind].append(elapsed)
            if status not in ok or (valid is not None and not valid(page)):
                self.errors[side, kind] += 1
        return status, page

    def filed(self) -> list[str]:
        with self.lock:
            return list(self.acknowledged)


def scenario(
    user: User, rec: Recorder, pending: list[str], deadline: float, rnd: random.Random
) -> None:
    """One customer: searches, articles, wizard runs and filings, at random."""
    status, page = rec.timed(CUSTOMER, "wizard: GET /request", lambda: user.call("GET", "/request"))
    match = CSRF.search(page)
    csrf = match.group(1) if match else ""
    while time.monotonic() < deadline and rec.count < MAX_REQUESTS:
        roll = rnd.random()
        if roll < 0.45:  # search as you type: prefixes of a query, as htmx sends them
            q = rnd.choice(QUERIES)
            for end in range(3, len(q) + 1, 3):
                rec.timed(
                    CUSTOMER,
                    "search (htmx)",
                    lambda q=q, end=end: user.call(
                        "GET",
                        "/search?" + urllib.parse.urlencode({"q": q[:end]}),
                        headers={"HX-Request": "true"},
                    ),
                )
        elif roll < 0.75:
            rec.timed(
                CUSTOMER,
                "article",
                lambda: user.call("GET", f"/articles/{rnd.choice(ARTICLES)}.html"),
            )
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
                    CUSTOMER,
                    f"wizard: POST {path}",
                    lambda path=path, fields={"csrf_token": csrf, **fields}: user.call(
                        "POST", path, fields
                    ),
                )
                # the session id (and with it the CSRF token) rotates once an address
                # is entered: the next form's token is on the page the POST led to
                if match := CSRF.search(page):
                    csrf = match.group(1)
            rec.timed(
                CUSTOMER, "wizard: GET /request/review", lambda: user.call("GET", "/request/review")
            )
        else:  # following an emailed link: file a ticket
            with rec.lock:
                pid = pending.pop() if pending else None
            if pid is None:
                continue
            token = tokens.make(SECRET, tokens.FILE_REQUEST, pid)
            status, page = rec.timed(
                CUSTOMER,
                "filing: POST /request/confirm",
                lambda fields={"csrf_token": csrf, "token": token}: user.call(
                    "POST", "/request/confirm", fields
                ),
                ok=(200,),
            )
            if status == 200 and (m := NUMBER.search(page)):
                with rec.lock:
                    rec.acknowledged.append(m.group(1))


def _names(number: str, page: str) -> bool:
    return number in page


def _whole_queue(page: str) -> bool:
    return "<html" in page and 'id="queue-results"' in page


def _queue_fragment(page: str) -> bool:
    return "<html" not in page and page.lstrip().startswith('<div id="queue-results"')


def agent(
    user: User, email: str, rec: Recorder, deadline: float, rnd: random.Random, index: int
) -> None:
    """One staff agent: signs in as a browser does, then refreshes the queue, opens
    tickets the customers filed and answers them (a note now and then)."""
    _, page = rec.timed(STAFF, "GET /staff/login", lambda: user.call("GET", "/staff/login"))
    match = CSRF.search(page)
    fields = {
        "csrf_token": match.group(1) if match else "",
        "email": email,
        "password": PASSWORD,
        "next": "/staff",
    }
    status, _ = rec.timed(
        STAFF, "POST /staff/login", lambda: user.call("POST", "/staff/login", fields), ok=(303,)
    )
    if status != 303 or user.location != "/staff":
        return  # counted as an error; nothing else this agent could do
    seq = 0
    while time.monotonic() < deadline and rec.count < MAX_REQUESTS:
        _, page = rec.timed(
            STAFF, "queue: GET /staff", lambda: user.call("GET", "/staff"), valid=_whole_queue
        )
        for _ in range(2):  # the every-30 s refresh and a filter change, as htmx sends them
            query = rnd.choice(QUEUE_FILTERS)
            rec.timed(
                STAFF,
                "queue: GET /staff (htmx)",
                lambda query=query: user.call(
                    "GET", "/staff" + (f"?{query}" if query else ""), headers={"HX-Request": "true"}
                ),
                valid=_queue_fragment,
            )
        filed = set(rec.filed())
        shown = [n for n in STAFF_TICKET.findall(page) if n in filed]
        if not shown:  # nothing filed yet: look again in a moment
            time.sleep(0.2)
            continue
        number = rnd.choice(shown[:20])  # the top of the queue
        path = f"/staff/tickets/{number}"
        _, page = rec.timed(
            STAFF,
            "ticket: GET",
            lambda path=path: user.call("GET", path),
            valid=functools.partial(_names, number),
        )
        match = CSRF.search(page)
        if not match:
            continue
        seq += 1
        kind = "note" if rnd.random() < 0.2 else "reply"
        words = "Internal: checked the mail logs" if kind == "note" else "We looked at it"
        posted = Posted(number, kind, f"{words} (load {index}-{seq}-{secrets.token_hex(4)}).")
        form = {"csrf_token": match.group(1), "text": posted.text}
        status, _ = rec.timed(
            STAFF,
            f"ticket: POST {kind}",
            lambda path=path, form=form, kind=kind: user.call("POST", f"{path}/{kind}", form),
            ok=(303,),
        )
        target = user.location
        if status != 303 or f"done={kind}" not in target:
            continue
        with rec.lock:
            rec.posted.append(posted)
        parts = urllib.parse.urlsplit(target)  # the redirect, as the browser follows it
        again = parts.path + (f"?{parts.query}" if parts.query else "")
        _, page = rec.timed(STAFF, "ticket: GET", lambda again=again: user.call("GET", again))
        if posted.text not in page:
            with rec.lock:
                rec.not_shown.append(posted)


def prepare(settings: Settings, n: int, agents: int) -> tuple[list[str], list[str]]:
    """The pending requests customers will file, and the agents (passwords set through
    their one-time links, as ``portal staff add`` hands them out). The filing links'
    mails are delivered here (``portal tickets outbox --deliver``), so that the run's
    outbox holds only what the run queued."""
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
    emails = [f"agent{i}@harbor.example" for i in range(agents)]
    for i, email in enumerate(emails):
        add_staff(db, settings, email, name=f"Load Agent {i}", now=now)
    deliverer = outbox.deliverer_for(db, settings, policy)
    while deliverer.deliver_due(limit=500).delivered:
        pass
    db.dispose()
    return ids, emails


@dataclass
class Check:
    """What the database and the mail server hold after a run."""

    stored: set[str]  # ticket numbers
    lost: list[str]  # acknowledged filings that are not tickets
    thread: Counter[tuple[str, str, str]]  # (number, kind, text) of staff events
    outbox: Counter[tuple[str, str]]  # (number, text) of the run's replies in the outbox
    mailed: Counter[str]  # the run's texts in delivered mail
    undelivered: int  # outbox rows still waiting
    integrity: str
    extra: int = 0  # staff events of the load that no agent saw acknowledged

    def problems(self, posted: list[Posted]) -> list[str]:
        found = []
        for p in posted:
            in_thread = self.thread[p.number, p.kind, p.text]
            in_outbox = self.outbox[p.number, p.text]
            mailed = self.mailed[p.text]
            want = 1 if p.kind == "reply" else 0
            if (in_thread, in_outbox, mailed) != (1, want, want):
                found.append(
                    f"{p.kind} on {p.number}: {in_thread} in the thread, {in_outbox} in the "
                    f"outbox, {mailed} mailed ({p.text})"
                )
        return found


def _wait_for_outbox(database_url: str, seconds: float) -> None:
    """Until the outbox has delivered what the run queued (bounded)."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(
                    select(func.count()).select_from(Outbox).where(Outbox.delivered_at.is_(None))
                ).scalar()
            if not waiting:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def check(database_url: str, rec: Recorder, mail: MailServer) -> Check:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(select(Ticket.number))}
        events = conn.execute(
            select(Ticket.number, TicketEvent.kind, TicketEvent.note)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(TicketEvent.kind.in_(("reply", "note")), TicketEvent.note.contains("(load "))
        ).all()
        rows = conn.execute(
            select(Outbox.ticket_number, Outbox.body, Outbox.purpose, Outbox.delivered_at)
        ).all()
        integrity = (
            str(conn.execute(text("PRAGMA integrity_check")).scalar())
            if database_url.startswith("sqlite")
            else "n/a"
        )
    engine.dispose()
    texts = {p.text for p in rec.posted}
    thread = Counter((n, k, t) for n, k, t in events)
    queued: Counter[tuple[str, str]] = Counter()
    for number, text_body, _purpose, _delivered in rows:
        for t in texts:
            if t in text_body:
                queued[number or "", t] += 1
    mailed: Counter[str] = Counter()
    with mail.inbox.lock:
        messages = list(mail.inbox.messages)
    for message in messages:
        words = body(message)
        for t in texts:
            if t in words:
                mailed[t] += 1
    acknowledged = {(p.number, p.kind, p.text) for p in rec.posted}
    return Check(
        stored=stored,
        lost=sorted(set(rec.acknowledged) - stored),
        thread=thread,
        outbox=queued,
        mailed=mailed,
        undelivered=sum(1 for row in rows if row[3] is None),
        integrity=integrity,
        extra=sum(1 for key in thread if key not in acknowledged),
    )


def run(
    label: str,
    database_url: str,
    workers: int,
    seconds: float,
    users: int,
    agents: int,
    build_dir: Path,
) -> dict[str, Any]:
    mail = MailServer().start()
    settings = Settings.from_env(
        content_dir=ROOT / "content",
        build_dir=build_dir,
        database_url=database_url,
        secret_key=SECRET,
        rate_limit_address=(10**6, 3600),
        rate_limit_client=(10**6, 3600),
        smtp_url=mail.url,
    )
    env = {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_BUILD_DIR": str(build_dir),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_RATE_LIMITS": "1000000/3600,1000000/3600",
        "PORTAL_SMTP_URL": mail.url,
    }
    try:
        pending, emails = prepare(settings, 400, agents)
        load_before = os.getloadavg()
        with start_server(env, workers=workers, log_level="error", timeout=60) as server:
            rec = Recorder()
            deadline = time.monotonic() + seconds
            started = time.monotonic()
            threads = [
                threading.Thread(
                    target=scenario,
                    args=(User(server.url), rec, pending, deadline, random.Random(i)),
                )
                for i in range(users)
            ] + [
                threading.Thread(
                    target=agent,
                    args=(
                        User(server.url, follow_redirects=False),
                        email,
                        rec,
                        deadline,
                        random.Random(1000 + i),
                        i,
                    ),
                )
                for i, email in enumerate(emails)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=seconds + 60)
            elapsed = time.monotonic() - started
            load_after = os.getloadavg()
            drain_started = time.monotonic()
            _wait_for_outbox(database_url, DRAIN_SECONDS)
            drained = time.monotonic() - drain_started
        found = check(database_url, rec, mail)
    finally:
        mail.stop()
    return {
        "label": label,
        "workers": workers,
        "elapsed": elapsed,
        "drained": drained,
        "rec": rec,
        "check": found,
        "load": (load_before, load_after),
        "agents": agents,
        "users": users,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def _row(setup: str, kind: str, values: list[float], elapsed: float, errors: int) -> str:
    return (
        f"| {setup} | {kind} | {len(values)} | {len(values) / elapsed:.1f} | "
        f"{statistics.median(values) if values else 0:.1f} | {pct(values, 0.95):.1f} | "
        f"{pct(values, 0.99):.1f} | {errors} |"
    )


def report(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for side, title in ((CUSTOMER, "Customer pages"), (STAFF, "Staff pages")):
        lines += [
            f"### {title}",
            "",
            "| setup | page | requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in results:
            rec: Recorder = r["rec"]
            setup = f"{r['label']} ({r['workers']} proc)"
            kinds = sorted(k for s, k in rec.times if s == side)
            for kind in kinds:
                lines.append(
                    _row(setup, kind, rec.times[side, kind], r["elapsed"], rec.errors[side, kind])
                )
            every = [v for (s, _), vs in rec.times.items() if s == side for v in vs]
            errors = sum(n for (s, _), n in rec.errors.items() if s == side)
            if every:
                lines.append(_row(setup, f"**all {side} pages**", every, r["elapsed"], errors))
        lines.append("")
    lines += ["### Nothing lost", ""]
    for r in results:
        rec = r["rec"]
        c: Check = r["check"]
        replies = [p for p in rec.posted if p.kind == "reply"]
        notes = [p for p in rec.posted if p.kind == "note"]
        problems = c.problems(rec.posted)
        before, after = r["load"]
        lines += [
            f"- **{r['label']}** ({r['workers']} proc, {r['users']} customers, "
            f"{r['agents']} agents, {r['elapsed']:.1f} s; load average before "
            f"{before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f}, after "
            f"{after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f})",
            f"  - filings: {len(rec.acknowledged)} acknowledged, {len(c.stored)} tickets "
            f"stored, **{len(c.lost)} lost**; integrity_check: {c.integrity}",
            f"  - staff: {len(replies)} replies and {len(notes)} notes acknowledged; "
            f"**{len(problems)} not exactly once** (a reply: once in the thread, once in "
            f"the outbox, mailed once; a note: once in the thread, never in the outbox or "
            f"a mail); {len(rec.not_shown)} not on the ticket page the post led to; "
            f"{c.extra} in a thread without an acknowledgement",
            f"  - outbox: drained in {r['drained']:.1f} s after the run, "
            f"{c.undelivered} rows still undelivered",
        ]
        lines += [f"  - {p}" for p in problems[:20]]
    return "\n".join(lines)


def setups(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Both setups (or the one ``--only`` names) on a build in ``work``."""
    build_dir = work / "build"
    build(build_options(Settings.from_env(content_dir=ROOT / "content", build_dir=build_dir)))
    results: list[dict[str, Any]] = []
    if args.only in (None, "sqlite"):
        results.append(
            run(
                "SQLite",
                f"sqlite:///{work}/portal.db",
                1,
                args.seconds,
                args.users,
                args.agents,
                build_dir,
            )
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
                    args.agents,
                    build_dir,
                )
            )
        finally:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=8, help="customers")
    parser.add_argument("--agents", type=int, default=3, help="staff agents")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-load-"))
    try:
        results = setups(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text_report = report(results)
    print(text_report)
    out = ROOT / "bench" / "results" / "load.md"
    out.write_text(
        f"# Load test ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.users} customers "
        f"and {args.agents} staff agents, {args.seconds:g} s each; {os.cpu_count()} cores)\n\n"
        f"{LEGEND}\n\n{text_report}\n"
    )
    failed = any(r["check"].lost or r["check"].problems(r["rec"].posted) for r in results)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
