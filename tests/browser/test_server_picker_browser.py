"""The server picker on the e-mailed filing link's page (#12), in a real browser
without JavaScript: the H-Sphere reseller pack on a real uvicorn, a request whose
server text could mean two of the account's servers."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from kb.build import build
from kb.policy import load_policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PendingRequest
from portal.directory import importer as accounts
from portal.kb.building import build_options
from portal.tickets import tokens
from portal.wizard.flow import Draft
from tests.support.browser import serious_violations
from tests.support.paths import EXAMPLES
from tests.support.servers import LiveServer, start_server

PACK = EXAMPLES / "hsphere-reseller"
SECRET = "picker-browser"


@pytest.fixture(scope="module")
def reseller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Database]]:
    var = tmp_path_factory.mktemp("reseller-var")
    build_dir = var / "build"
    build(build_options(Settings.from_env(content_dir=PACK, build_dir=build_dir, secret_key="s")))
    url = f"sqlite:///{var}/portal.db"
    db = Database(url)
    db.upgrade()
    policy, _ = load_policy(PACK / "policy.yaml")
    assert policy is not None
    assert accounts.import_file(db, policy, PACK / "accounts.yaml").errors == []
    env = {
        "PORTAL_CONTENT_DIR": str(PACK),
        "PORTAL_BUILD_DIR": str(build_dir),
        "PORTAL_DATABASE_URL": url,
        "PORTAL_UPLOAD_DIR": str(var / "uploads"),
        "PORTAL_SECRET_KEY": SECRET,
    }
    with start_server(env) as server:
        yield server, db
    db.dispose()


def _filing_link(db: Database, server: str) -> str:
    """A reviewed request of Harrow & Finch (ds-204 and ds-205) about ``server``, and
    the filing link its sender would have been mailed."""
    draft = Draft(
        text="please reboot the server",
        request_type="server-reboot",
        account="DS-3003",
        email="admin@harrowfinch.example",
        plan="dedicated",
        role="customer",
        tz="Europe/Berlin",
        priority="standard",
        details={"server": server, "description": "it hangs"},
    )
    pending_id = secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id="DS-3003",
                email="admin@harrowfinch.example",
                data=draft.to_json(),
                client="browser-test",
                listed=True,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    return "/request/confirm?token=" + tokens.make(SECRET, tokens.FILE_REQUEST, pending_id)


def test_pick_a_server_without_javascript(
    nojs_page: Page, reseller: tuple[LiveServer, Database]
) -> None:
    server, db = reseller
    page = nojs_page
    page.goto(server.url + _filing_link(db, "ds-204 or ds-205"))
    picker = page.get_by_role("group", name="Which server is this request about?")
    expect(picker).to_contain_text("could mean more than one")
    # filing waits for the pick, and says so next to the question
    page.get_by_role("button", name="File my request").click()
    expect(page.locator("#e-server_pick")).to_contain_text("Choose one of the servers")
    expect(page.locator("h1")).to_have_text("File your request")
    page.get_by_label("ds-205 (id 2205)").check()
    accept = page.locator("#f-accept_charges")
    if accept.count():
        accept.check()
    page.get_by_role("button", name="File my request").click()
    expect(page.locator("body")).to_contain_text(re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}"))
    expect(page.locator("body")).to_contain_text("ds-205")


def test_the_picker_is_accessible(page: Page, reseller: tuple[LiveServer, Database]) -> None:
    server, db = reseller
    page.goto(server.url + _filing_link(db, "the old one"))
    expect(page.get_by_role("group", name="Which server is this request about?")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="File my request").click()
    expect(page.locator("#e-server_pick")).to_be_visible()
    assert serious_violations(page) == []
    # the keyboard moves between the servers like any radio group
    first = page.get_by_label("ds-204 (id 2204)")
    first.focus()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("ds-205 (id 2205)")).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("None of these")).to_be_checked()


def test_a_found_server_is_shown_not_asked(
    nojs_page: Page, reseller: tuple[LiveServer, Database]
) -> None:
    server, db = reseller
    nojs_page.goto(server.url + _filing_link(db, "DS-205"))
    expect(nojs_page.locator("dl.facts")).to_contain_text("ds-205 (id 2205)")
    expect(nojs_page.locator("dl.facts")).to_contain_text("at our upstream provider")
    assert nojs_page.locator("input[name=server_pick]").count() == 0
