"""Customers walking the request wizard in a real browser, with and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import serious_violations
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server


@pytest.fixture(params=["js", "nojs"])
def customer(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=request.param == "js")
    page = context.new_page()
    yield page
    context.close()


def describe(page: Page, server: LiveServer, text: str) -> None:
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill(text)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))


def choose(page: Page, title: str, plan: str = "Standard", role: str = "Primary contact") -> None:
    page.locator("label", has_text=title).first.click()
    page.get_by_label("Account id").fill("HH-10234")
    page.get_by_label("Your email address").fill("ops@example.com")
    page.get_by_label("Your role on the account").select_option(label=role)
    page.get_by_label("Your support plan").select_option(label=plan)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/coverage$"))


def test_deflected_by_an_article(customer: Page, live_server: LiveServer) -> None:
    describe(customer, live_server, "forgot administrator password")
    card = customer.locator(".suggested-articles li").first
    expect(card).to_contain_text("password")
    card.locator("summary").click()  # read it inline
    expect(card.locator(".inline-article")).to_be_visible()
    card.get_by_role("button", name="This solved my problem").click()
    expect(customer.locator("h1")).to_have_text("Glad that solved it")


def test_included_request_to_review(customer: Page, live_server: LiveServer) -> None:
    describe(customer, live_server, "my mailbox does not receive mail")
    choose(customer, "A mailbox is not working")
    expect(customer.locator(".verdict h2")).to_contain_text("Covered on the Standard plan")
    customer.get_by_role("button", name="Continue").click()
    customer.get_by_label("Affected email address").fill("info@example.com")
    customer.get_by_label("Exact error message").fill("550 5.1.1 mailbox unavailable")
    customer.get_by_label("When did it happen?").fill("2026-01-05T09:40")
    customer.get_by_label("What were you doing at the time?").fill("Sending a test message")
    customer.get_by_label("High").check()
    customer.get_by_role("button", name="Continue to review").click()
    expect(customer).to_have_url(re.compile(r"/request/review$"))
    expect(customer.locator(".review")).to_contain_text("550 5.1.1 mailbox unavailable")
    expect(customer.locator(".review")).to_contain_text("business hours")
    customer.get_by_role("button", name="Send request").click()
    expect(customer.locator("h1")).to_have_text("Check your email")


def test_billable_request_must_accept_charges(customer: Page, live_server: LiveServer) -> None:
    describe(customer, live_server, "my php script has a bug")
    choose(customer, "Help with my own scripts or code")
    expect(customer.locator(".verdict")).to_contain_text("€100.00 per hour")
    customer.get_by_role("button", name="Continue").click()
    expect(customer.locator(".error-summary")).to_contain_text("I accept the charges")
    customer.get_by_label("I accept the charges described above").check()
    customer.get_by_role("button", name="Continue").click()
    expect(customer).to_have_url(re.compile(r"/request/details$"))


def test_not_offered_request_is_stopped_with_its_article(
    customer: Page, live_server: LiveServer
) -> None:
    describe(customer, live_server, "please configure my firewall")
    choose(customer, "Configure a firewall")
    expect(customer.locator(".verdict h2")).to_have_text("We don't offer this")
    expect(customer.get_by_role("button", name="Continue")).to_have_count(0)
    customer.get_by_role("link", name=re.compile("Services we don't provide")).first.click()
    expect(customer).to_have_url(re.compile(r"/articles/unsupported-services\.html$"))


def test_non_eligible_emergency_is_explained(customer: Page, live_server: LiveServer) -> None:
    describe(customer, live_server, "one mailbox is broken")
    choose(customer, "A mailbox is not working")
    customer.get_by_role("button", name="Continue").click()
    expect(customer.get_by_label("This is an emergency")).to_have_count(0)
    expect(customer.locator(".note")).to_contain_text("An emergency is a server or service")


def test_live_suggestions_while_typing(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/request")
    page.get_by_label("Describe the problem or request").press_sequentially(
        "cancel my dedicated server", delay=20
    )
    expect(page.locator("#suggestions")).to_contain_text("Cancel a dedicated server", timeout=5000)
    expect(page.locator(".suggested-articles")).to_contain_text("ancel")


def test_keyboard_only_run_through(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/request")
    page.get_by_label("Describe the problem or request").focus()
    page.keyboard.type("install wordpress for me")
    page.keyboard.press("Tab")  # to the Continue button
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/request/choose$"))
    page.get_by_label("Account id").focus()
    page.keyboard.type("HH-10234")
    page.keyboard.press("Tab")
    page.keyboard.type("ops@example.com")
    page.keyboard.press("Enter")  # submits the form: the suggested type is preselected
    expect(page).to_have_url(re.compile(r"/request/coverage$"))
    expect(page.locator(".verdict h2")).to_contain_text("Covered")
    page.get_by_role("button", name="Continue").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/request/details$"))


def test_errors_are_summarised_and_focusable(page: Page, live_server: LiveServer) -> None:
    describe(page, live_server, "my mailbox does not receive mail")
    page.get_by_label("Account id").fill("!")
    page.get_by_label("Your email address").evaluate("e => e.removeAttribute('required')")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("account id")).click()
    expect(page.get_by_label("Account id")).to_be_focused()
    expect(page.get_by_label("Account id")).to_have_value("!")


def test_axe_on_wizard_pages(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/request")
    assert serious_violations(page) == []
    describe(page, live_server, "my php script has a bug")
    assert serious_violations(page) == []
    choose(page, "Help with my own scripts or code")
    assert serious_violations(page) == []
    page.get_by_label("I accept the charges described above").check()
    page.get_by_role("button", name="Continue").click()
    assert serious_violations(page) == []
    for path in ["/plans", "/coverage"]:
        page.goto(live_server.url + path)
        assert serious_violations(page) == [], path


def test_mobile_layout_has_no_horizontal_scroll(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(live_server.url + "/request")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    context.close()


@pytest.fixture(scope="module")
def kolmisoft_server(
    demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    pack = EXAMPLES / "kolmisoft" / "policy.yaml"
    var = tmp_path_factory.mktemp("kolmisoft-var")
    with start_server(
        {
            "PORTAL_POLICY": str(pack),
            "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "kolmisoft-test",
        }
    ) as server:
        yield server


def test_example_pack_kolmisoft(page: Page, kolmisoft_server: LiveServer) -> None:
    page.goto(kolmisoft_server.url + "/plans")
    for plan in ["ENTERPRISE", "PREMIUM", "BASIC", "FREE"]:
        expect(page.locator("table")).to_contain_text(re.compile(plan, re.I))
    page.goto(kolmisoft_server.url + "/request")
    page.get_by_label("Describe the problem or request").fill("data migration to a new server")
    page.get_by_role("button", name="Continue").click()
    page.locator("input[name=request_type]").first.check()
    page.get_by_label("Account id").fill("MOR-77")
    page.get_by_label("Your email address").fill("voip@example.com")
    page.get_by_label("Your support plan").select_option(label="Basic")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".verdict h2")).to_have_text("Billable work")
    expect(page.locator(".verdict")).to_contain_text("€100.00 per hour")
