"""A customer in a real browser, with and without JavaScript: the time zone picker
(grouped, the language's zone without JS, the browser's with it), emergencies explained
where the claim is made, and the status page (times in the customer's zone, a
complaint with its thank-you, no feedback form before our answer, axe)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import serious_violations
from tests.support.live import demo_portal
from tests.support.mail import MailServer, body
from tests.support.servers import LiveServer

ANNA = "anna@lindqvist.example"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(
    demo_build: Path, tmp_path_factory: pytest.TempPathFactory, mail: MailServer
) -> Iterator[LiveServer]:
    with demo_portal(demo_build, tmp_path_factory.mktemp("ux-var"), mail) as live:
        yield live


def new_page(browser: Browser, *, js: bool, locale: str, timezone: str) -> Page:
    context = browser.new_context(java_script_enabled=js, locale=locale, timezone_id=timezone)
    return context.new_page()


def to_choose(page: Page, server: LiveServer, text: str) -> None:
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill(text)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))


def chosen_zone(page: Page) -> tuple[str, str]:
    option = page.locator("#f-tz option:checked")
    return option.inner_text(), option.evaluate("o => o.parentElement.label")


@pytest.mark.parametrize(
    ("js", "locale", "timezone", "expected"),
    [
        (False, "de-AT", "America/Chicago", "Europe/Vienna"),  # from the language's region
        (False, "en-US", "America/Chicago", "Europe/Berlin"),  # several zones: the provider's
        (True, "de-AT", "Asia/Tokyo", "Asia/Tokyo"),  # with JavaScript: the browser's zone
    ],
)
def test_the_zone_picker(
    browser: Browser, server: LiveServer, js: bool, locale: str, timezone: str, expected: str
) -> None:
    page = new_page(browser, js=js, locale=locale, timezone=timezone)
    try:
        to_choose(page, server, "my mailbox does not receive mail")
        assert chosen_zone(page)[0] == expected
        groups = page.locator("#f-tz optgroup").evaluate_all("gs => gs.map(g => g.label)")
        assert groups[:3] == ["Common time zones", "Europe", "Americas"]
        # the emergency explanation is one keyboard-reachable disclosure away
        page.locator("summary", has_text="Is it an emergency, or just urgent?").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".emergencies")).to_contain_text("the policy gives no number for it")
        if js:  # axe runs in the page's JavaScript
            assert serious_violations(page) == []
    finally:
        page.context.close()


@pytest.mark.parametrize("js", [True, False])
def test_the_status_page(browser: Browser, server: LiveServer, mail: MailServer, js: bool) -> None:
    page = new_page(browser, js=js, locale="ja-JP", timezone="Asia/Tokyo")
    try:
        to_choose(page, server, "my mailbox does not receive mail")
        page.locator("label", has_text="A mailbox is not working").first.click()
        page.get_by_label("Account id").fill("HH-10234")
        page.get_by_label("Your email address").fill(ANNA)
        page.get_by_label("Your time zone").select_option("Asia/Tokyo")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Affected email address").fill("info@lindqvist.example")
        page.get_by_label("Exact error message").fill("550")
        page.get_by_label("When did it happen?").fill("2026-12-01T20:51")
        page.get_by_label("What were you doing at the time?").fill("Sending a test")
        page.get_by_label("High").check()
        page.get_by_role("button", name="Continue to review").click()
        expect(page.locator(".review")).to_contain_text("Tue 1 Dec")
        expect(page.locator(".review")).to_contain_text("20:51 (Asia/Tokyo)")
        sent = len(mail.inbox.to(ANNA))
        page.get_by_role("button", name="Send request").click()
        verify = mail.inbox.wait_for(ANNA, count=sent + 1)[-1]
        link = re.search(r"http://\S+/request/confirm\?token=\S+", body(verify))
        assert link, body(verify)
        page.goto(link.group(0))
        expect(page.locator(".review")).to_contain_text("(Asia/Tokyo) if you file now")
        page.get_by_role("button", name="File my request").click()
        expect(page.locator(".success")).to_contain_text("Your request is filed")
        facts = page.locator(".review")
        expect(facts).to_contain_text("(Asia/Tokyo)")
        expect(facts).to_contain_text("Tue 1 Dec")
        expect(page.get_by_label("Feedback about our reply")).to_have_count(0)
        box = page.get_by_label("A complaint about how this request is handled")
        box.fill("Nobody has answered yet.")
        page.get_by_role("button", name="Send a complaint").click()
        expect(page.locator(".success")).to_contain_text("Thank you: your complaint")
        last = page.locator(".history li").last
        expect(last).to_contain_text("Your complaint")
        expect(last).to_contain_text("Nobody has answered yet.")
        expect(last).not_to_contain_text("complaint:")
        expect(last.locator("time")).to_contain_text("(Asia/Tokyo)")
        if js:  # axe runs in the page's JavaScript
            assert serious_violations(page) == []
    finally:
        page.context.close()


def test_plans_explain_emergencies_accessibly(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/plans")
    section = page.get_by_role("region", name="Emergencies and priorities")
    expect(section).to_contain_text("Marking a request as an emergency claims that it is one")
    expect(section).to_contain_text("Only an accepted emergency is filed at the Blocker priority")
    expect(section).to_contain_text("Emergency phone line: the policy gives no number for it.")
    assert serious_violations(page) == []
