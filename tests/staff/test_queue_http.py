"""The queue over HTTP against SQLite and PostgreSQL: the markers and filters the issue
names (overdue, due within N hours, emergency, the customer replied, upstream) on
tickets made the way staff and customers make them, and the queue in pages of
``PAGE_SIZE`` with the counts over all pages, links that work without JavaScript and
an htmx refresh that keeps the page."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket
from portal.staff import actions
from portal.staff.queue import PAGE_SIZE
from portal.tickets import updates
from tests.support.apps import running_portal
from tests.support.databases import KINDS, new_database_url
from tests.support.staff import CLI, add_staff, file_ticket, sign_in, staff_settings

ROW = re.compile(
    r'<tr class="(?P<cls>[^"]*)" data-number="(?P<number>T-[0-9A-Z-]+)">(?P<cells>.*?)</tr>', re.S
)
LOW = PAGE_SIZE + 2  # low-priority tickets: two pages of them


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def settings(
    database_url: str, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return staff_settings(
        database_url,
        tmp_path_factory.mktemp("queue"),
        demo_build,
        upstream_email="noc@upstream.example",
    )


@pytest.fixture(scope="module")
def made(settings: Settings) -> Iterator[tuple[Starlette, dict[str, Ticket]]]:
    """The portal with one ticket of each kind the markers are for, and LOW more."""
    with running_portal(settings, run_outbox=False) as app:
        db: Database = app.state.db
        policy: Policy = app.state.policy.get()
        add_staff(db, settings, "sam@harbor.example", name="Sam Agent")
        now = dt.datetime.now(dt.UTC)
        made = {
            "overdue": file_ticket(db, policy, settings, at=now - dt.timedelta(days=8)),
            # answered by a status change (mailed to the customer): not overdue
            "status_changed": file_ticket(db, policy, settings, at=now - dt.timedelta(days=8)),
            "due": file_ticket(db, policy, settings),
            "emergency": file_ticket(
                db,
                policy,
                settings,
                request_type="server-down",
                priority="blocker",
                emergency=True,
                account="HH-20417",
                email="it@okafor.example",
            ),
            "replied": file_ticket(db, policy, settings),
            "upstream": file_ticket(
                db,
                policy,
                settings,
                request_type="server-reboot",
                priority="medium",
                account="HH-20417",
                email="it@okafor.example",
            ),
        }
        number = made["replied"].number
        actions.reply(
            db,
            policy,
            settings,
            CLI,
            number,
            "Which mailbox?",
            status="waiting_for_customer",
            now=now,
        )
        updates.add_comment(db, settings, number, "info@lindqvist.example", now=now)
        actions.forward(db, policy, settings, CLI, made["upstream"].number, now=now)
        actions.set_status(
            db, policy, settings, CLI, made["status_changed"].number, "in_progress", now=now
        )
        for i in range(LOW):
            file_ticket(db, policy, settings, priority="low", at=now - dt.timedelta(seconds=i))
        yield app, made


@pytest.fixture(scope="module")
def client(made: tuple[Starlette, dict[str, Ticket]]) -> Iterator[TestClient]:
    with TestClient(made[0]) as c:
        assert sign_in(c, "sam@harbor.example").status_code == 303
        yield c


@pytest.fixture(scope="module")
def tickets(made: tuple[Starlette, dict[str, Ticket]]) -> dict[str, str]:
    return {kind: t.number for kind, t in made[1].items()}


def rows(page: str) -> dict[str, tuple[str, str]]:
    """ticket number -> (the row's class, its cells) of a queue page."""
    return {m["number"]: (m["cls"], m["cells"]) for m in ROW.finditer(page)}


def every_row(client: TestClient, query: str) -> dict[str, tuple[str, str]]:
    """The rows of every page of the queue with these filters."""
    found: dict[str, tuple[str, str]] = {}
    for n in range(1, 100):
        page = client.get(f"/staff?{query}&page={n}").text
        found.update(rows(page))
        if 'rel="next"' not in page:
            return found
    raise AssertionError("no last page")


def count(page: str, key: str) -> int:
    match = re.search(
        rf'data-count="{re.escape(key)}"[^>]*>.*?<span class="count">(\d+)</span>', page
    )
    assert match, key
    return int(match.group(1))


def test_the_markers_and_filters_the_issue_names(
    client: TestClient, tickets: dict[str, str]
) -> None:
    marked = every_row(client, "")
    # overdue: the row is marked and says by how much
    cls, cells = marked[tickets["overdue"]]
    assert "overdue" in cls.split() and "<strong>overdue by" in cells
    cls, cells = marked[tickets["due"]]
    assert "overdue" not in cls.split() and " left" in cells
    assert "answered" in marked[tickets["status_changed"]][1]
    assert '<span class="tag emergency">emergency</span>' in marked[tickets["emergency"]][1]
    assert '<span class="tag">customer replied</span>' in marked[tickets["replied"]][1]
    assert '<span class="tag">upstream</span>' in marked[tickets["upstream"]][1]
    for query, kind in [
        ("overdue=1", "overdue"),
        ("emergency=accepted", "emergency"),
        ("emergency=claimed", "emergency"),
        ("replied=1", "replied"),
        ("upstream=1", "upstream"),
    ]:
        page = client.get(f"/staff?{query}").text
        assert list(rows(page)) == [tickets[kind]], query
    # due within N hours: the ones due in the next N clock hours, not the overdue one
    due = every_row(client, "due_within=720")
    assert tickets["due"] in due and tickets["overdue"] not in due
    assert tickets["replied"] not in due  # answered: nothing is due any more
    assert count(client.get("/staff?due_within=720").text, "due_within") == len(due)


def test_the_queue_comes_in_pages_with_counts_over_all(
    client: TestClient, tickets: dict[str, str]
) -> None:
    total = len(tickets) + LOW
    pages = math.ceil(total / PAGE_SIZE)
    first = client.get("/staff")
    assert len(rows(first.text)) == PAGE_SIZE
    assert count(first.text, "status:active") == total  # the counts: every page
    assert count(first.text, "priority:low") == LOW
    assert f"Tickets 1–{PAGE_SIZE} of {total} shown (page 1 of {pages})" in first.text
    assert 'href="/staff?page=2" rel="next"' in first.text  # a plain link: works without JS
    second = client.get("/staff?page=2")
    assert len(rows(second.text)) == min(PAGE_SIZE, total - PAGE_SIZE)
    assert not set(rows(first.text)) & set(rows(second.text))
    assert 'aria-current="page"' in second.text and 'rel="prev"' in second.text
    # htmx: the refresh every 30 s asks for the same page, filters kept
    partial = client.get("/staff?priority=low&page=2", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith(
        '<div id="queue-results" hx-get="/staff?priority=low&amp;page=2"'
    )
    assert len(rows(partial.text)) == LOW - PAGE_SIZE
    assert 'href="/staff?priority=low"' in partial.text  # page 1 of the same filter
    # a quick filter starts again at its first page
    assert 'href="/staff?priority=low&amp;overdue=1"' in partial.text
    # a page past the end (tickets closed since): the last one; a bad one says so
    late = client.get(f"/staff?page={pages + 5}")
    assert (
        late.status_code == 200
        and rows(late.text).keys() == rows(client.get(f"/staff?page={pages}").text).keys()
    )
    bad = client.get("/staff?page=two")
    assert bad.status_code == 422 and "Give a page number" in bad.text
    assert len(rows(bad.text)) == PAGE_SIZE
