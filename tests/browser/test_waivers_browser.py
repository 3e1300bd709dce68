"""Claiming a waiver in a real browser (#12): the coverage step's checkbox is labelled,
reachable with the keyboard and passes axe; the review says the claim is not a
decision. The checkbox is a plain form field (tests/test_waivers.py posts it without
any script)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import serious_violations
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server

WAIVER_TEXT = "the problem is caused by a bug and you run one of the two latest MOR versions"


@pytest.fixture(scope="module")
def server(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pack = EXAMPLES / "kolmisoft" / "policy.yaml"
    if not pack.exists():
        pytest.skip("example packs not present")
    var = tmp_path_factory.mktemp("waiver-var")
    with start_server(
        {
            "PORTAL_POLICY": str(pack),
            "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "waiver-browser",
        }
    ) as live:
        yield live


def test_a_waiver_is_claimed_with_the_keyboard_and_reviewed(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill("MOR crashes: a bug in routing")
    page.get_by_role("button", name="Continue").click()
    page.locator("input[name=request_type][value=bug-report]").check()
    page.get_by_label("Account id").fill("KS-1002")
    page.get_by_label("Your email address").fill("ops@atlasvoice.example")
    page.get_by_label("Your support plan").select_option(label="Premium")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/coverage$"))
    claim = page.get_by_label(f"I believe this applies: {WAIVER_TEXT}")
    expect(claim).not_to_be_checked()
    assert serious_violations(page) == []
    page.get_by_label(re.compile("I accept the charges")).focus()
    page.keyboard.press("Tab")  # the claim comes next, in the form's order
    expect(claim).to_be_focused()
    page.keyboard.press("Space")
    expect(claim).to_be_checked()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")  # accept the charges
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/details$"))
    page.locator("input[name=detail_product_version]").fill("11")
    page.locator("[name=detail_error_message]").fill("segfault in routing")
    page.locator("input[name=detail_occurred_at]").fill("2026-11-20T10:00")
    page.locator("[name=detail_doing]").fill("routing a call")
    page.locator("#prio-medium").check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/review$"))
    expect(page.locator("dl.review")).to_contain_text(
        f"You claim: {WAIVER_TEXT} — staff will confirm; until then the request is treated "
        "as paid work."
    )
    assert serious_violations(page) == []
