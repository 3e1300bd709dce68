"""A known incident deflecting a wizard run in a real browser, with and without
JavaScript: the customer's description matches an open incident, the wizard shows it
first and "Tell me when it's fixed" takes their address instead of a new ticket; axe
on /status (#15 item 7)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from kb.policy import load_policy
from portal.db.engine import Database
from portal.db.models import IncidentSubscription, PendingRequest
from portal.directory import importer
from portal.incidents import store
from tests.support.browser import serious_violations
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server

TITLE = "Mail delivery is delayed"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    var = tmp_path_factory.mktemp("incidents-var")
    url = f"sqlite:///{var}/portal.db"
    db = Database(url)
    db.upgrade()
    policy, _ = load_policy(CONTENT / "policy.yaml")
    assert policy is not None
    assert not importer.import_file(db, policy, EXAMPLES / "accounts.yaml").errors
    now = dt.datetime.now(dt.UTC)
    store.add(
        db,
        title=TITLE,
        services=("email",),
        text="A mail relay is overloaded; messages arrive late.",
        author="test",
        now=now,
    )
    start = now + dt.timedelta(days=2)
    store.add(
        db,
        title="Kernel update on web-12",
        kind="maintenance",
        servers=("web-12",),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        author="test",
        now=now,
    )
    yield url, db
    db.dispose()


@pytest.fixture(scope="module")
def server(
    demo_build: Path, database: tuple[str, Database], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    var = tmp_path_factory.mktemp("incidents-uploads")
    with start_server(
        {
            "PORTAL_DATABASE_URL": database[0],
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "incidents-browser",
        }
    ) as live:
        yield live


@pytest.fixture(params=["js", "nojs"])
def customer(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[Page, bool]]:
    js = request.param == "js"
    context = browser.new_context(java_script_enabled=js)
    yield context.new_page(), js
    context.close()


def _subscriptions(db: Database, email: str) -> int:
    with db.session() as session:
        query = select(func.count()).where(IncidentSubscription.email == email)
        return int(session.scalar(query) or 0)


def test_a_known_incident_deflects_the_wizard_run(
    customer: tuple[Page, bool], server: LiveServer, database: tuple[str, Database]
) -> None:
    (page, js), db = customer, database[1]
    email = "dev@lindqvist.example" if js else "anna@lindqvist.example"  # both listed
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill("Our email arrives hours late")
    match = page.locator("#known-incidents")
    if js:  # live: the incident shows while typing, before anything is sent
        expect(match).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))
    expect(match).to_have_text("This looks like a problem we already know about")
    card = page.locator(".incident-matches .incident").first
    expect(card.get_by_role("heading", name=TITLE)).to_be_visible()
    # first on the page: before the request types
    shown, types = match.bounding_box(), page.locator("#f-request_type").bounding_box()
    assert shown is not None and types is not None and shown["y"] < types["y"]
    if js:  # (axe on this long page does not return in a context without JavaScript)
        assert serious_violations(page) == []
    card.get_by_label("Account id").fill("HH-10234")
    card.get_by_label("Your e-mail address").fill(email)
    card.get_by_role("button", name="Tell me when it's fixed").click()
    done = page.get_by_role("status")
    expect(done).to_contain_text("we will e-mail it once, when this is fixed")
    if js:  # htmx swapped the answer in place: still on the wizard's page
        expect(page).to_have_url(re.compile(r"/request/choose$"))
    else:
        expect(page).to_have_url(re.compile(r"/status/\d+/subscribe$"))
    assert _subscriptions(db, email) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PendingRequest)) == 0


def test_status_page_and_home_banner_pass_axe(
    page: Page, server: LiveServer, database: tuple[str, Database]
) -> None:
    page.goto(server.url + "/status")
    expect(page.get_by_role("heading", name="Service status", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_text("A mail relay is overloaded; messages arrive late.")).to_be_visible()
    expect(page.get_by_role("heading", name="Kernel update on web-12")).to_be_visible()
    assert serious_violations(page) == []
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Service status")).to_be_visible()
    assert serious_violations(page) == []
