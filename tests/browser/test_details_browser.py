"""The details step in a real browser (#12): a "one of these" group is one fieldset a
keyboard user moves through, its error passes axe, and the plan's price follows the
number of servers as it is typed (htmx) or shows on the review (no JavaScript)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import serious_violations
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server


def _pack_server(pack: str, demo_build: Path, var: Path) -> Iterator[LiveServer]:
    with start_server(
        {
            "PORTAL_POLICY": str(EXAMPLES / pack / "policy.yaml"),
            "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": f"{pack}-details-test",
        }
    ) as server:
        yield server


@pytest.fixture(scope="module")
def itpossible_server(
    demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from _pack_server("itpossible", demo_build, tmp_path_factory.mktemp("itp-var"))


@pytest.fixture(scope="module")
def hsphere_server(
    demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from _pack_server("hsphere", demo_build, tmp_path_factory.mktemp("hsp-var"))


def to_details(page: Page, server: LiveServer, request_type: str, plan: str, role: str) -> None:
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill("something needs attention")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))
    suggested = page.locator(f"#rt-s-{request_type}")
    if suggested.count():
        suggested.check()
    else:  # in its category, folded away
        page.locator("details", has=page.locator(f"#rt-{request_type}")).locator("summary").click()
        page.locator(f"#rt-{request_type}").check()
    page.get_by_label("Account id").fill("AC-1001")
    page.get_by_label("Your email address").fill("ops@example.com")
    if role:
        page.get_by_label("Your role on the account").select_option(label=role)
    page.get_by_label("Your support plan").select_option(label=plan)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/coverage$"))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/details$"))


def test_the_group_is_keyboard_usable_and_its_error_passes_axe(
    page: Page, itpossible_server: LiveServer
) -> None:
    to_details(
        page, itpossible_server, "login-problem", "Standard hosting support", "Primary contact"
    )
    group = page.get_by_role("group", name=re.compile(r"^One of these: "))
    expect(group).to_be_visible()
    # the group's fields follow each other in the tab order, each with its label
    group.get_by_label("Exact error message").focus()
    page.keyboard.press("Tab")
    expect(group.get_by_label("Describe your request")).to_be_focused()
    page.keyboard.type("The FTP login is refused since this morning.")
    page.keyboard.press("Tab")
    when = group.get_by_label("When did it happen?")
    expect(when).to_be_focused()
    when.fill("")  # the browser's clock fills it in; the customer leaves it empty
    assert serious_violations(page) == []
    page.get_by_role("button", name="Continue to review").click()
    # the error sits on the group, keeps what was typed, and passes axe
    expect(page.locator(".error-summary")).to_contain_text("exact error message")
    expect(page.locator("#f-group-0 .field-error")).to_contain_text("exact error message")
    expect(group.get_by_label("Describe your request")).to_have_value(
        "The FTP login is refused since this morning."
    )
    assert serious_violations(page) == []
    page.locator(".error-summary a[href='#f-group-0']").press("Enter")
    group.get_by_label("Exact error message").focus()
    page.keyboard.type("530 Login incorrect.")
    page.get_by_role("button", name="Continue to review").click()
    expect(page).to_have_url(re.compile(r"/request/review$"))
    expect(page.locator(".review")).to_contain_text("530 Login incorrect.")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_price_follows_the_number_of_servers(
    browser: Browser, hsphere_server: LiveServer, js: bool
) -> None:
    context = browser.new_context(java_script_enabled=js)
    page = context.new_page()
    try:
        to_details(page, hsphere_server, "priority-signup", "Regular", "")
        count = page.get_by_label("Number of servers")
        count.fill("6")
        if js:  # htmx asks for the price while the number is typed
            expect(page.locator("#plan-price")).to_contain_text("$400.00 per month for 6 servers")
            count.fill("11")
            expect(page.locator("#plan-price")).to_contain_text("$650.00 per month for 11 servers")
            assert serious_violations(page) == []
            count.fill("6")
            expect(page.locator("#plan-price")).to_contain_text("for 6 servers")
        page.get_by_role("button", name="Continue to review").click()
        expect(page).to_have_url(re.compile(r"/request/review$"))
        expect(page.locator(".review")).to_contain_text("$400.00 per month for 6 servers")
    finally:
        context.close()
