"""No horizontal scrolling on any page from 320 to 1,440 px: every page a customer sees,
at 320, 390 and 1,280 px, is no wider than the viewport, with a 3,000-character word
and a long URL typed into the wizard (long words wrap; wide tables scroll inside their
own box)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.live import demo_portal
from tests.support.mail import MailServer, body
from tests.support.servers import LiveServer

WIDTHS = (320, 390, 1280)
LONG_WORD = "Supercalifragilistic" * 150  # 3,000 characters, no break
LONG_URL = "https://example.com/" + "/".join(f"segment-{i}-of-a-very-long-path" for i in range(40))
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
    with demo_portal(demo_build, tmp_path_factory.mktemp("layout-var"), mail) as live:
        yield live


@pytest.fixture
def customer(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    yield context.new_page()
    context.close()


def overflow(page: Page) -> dict[int, int]:
    """The widths at which the document is wider than the viewport: {viewport: width}."""
    wide: dict[int, int] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll = int(page.evaluate("document.documentElement.scrollWidth"))
        if scroll > width:
            wide[width] = scroll
    page.set_viewport_size({"width": 1280, "height": 900})
    return wide


def test_no_page_is_wider_than_the_viewport(
    customer: Page, server: LiveServer, mail: MailServer
) -> None:
    page, base = customer, server.url
    wide: dict[str, dict[int, int]] = {}

    def check(name: str) -> None:
        found = overflow(page)
        if found:
            wide[name] = found

    for name, path in [
        ("home", "/"),
        ("article with the plans table", "/articles/support-plans.html"),
        ("category", "/categories/hosting.html"),
        ("search", "/search?q=" + LONG_WORD[:200]),
        ("plans", "/plans"),
        ("coverage", "/coverage"),
        ("404", "/no-such-page"),
    ]:
        assert page.goto(base + path) is not None
        check(name)
        if name == "article with the plans table":  # all of it shown at 1,280 px
            table = page.locator(".prose .table-scroll").first
            sizes = table.evaluate("e => [e.scrollWidth, e.clientWidth]")
            assert sizes[0] <= sizes[1], f"the plans table is cut off at 1,280 px: {sizes}"

    page.goto(base + "/request")
    check("wizard: describe")
    page.get_by_label("Describe the problem or request").fill(
        f"my mailbox does not receive mail {LONG_WORD[:1500]} {LONG_URL[:400]}"
    )
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))
    check("wizard: choose")
    page.locator("label", has_text="A mailbox is not working").first.click()
    page.get_by_label("Account id").fill("HH-10234")
    page.get_by_label("Your email address").fill(ANNA)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/coverage$"))
    check("wizard: coverage")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/details$"))
    check("wizard: details")
    page.get_by_label("Affected email address").fill("info@lindqvist.example")
    page.get_by_label("Exact error message").fill(LONG_WORD)
    page.get_by_label("When did it happen?").fill("2026-01-05T09:40")
    page.get_by_label("What were you doing at the time?").fill(LONG_URL)
    page.get_by_label("High").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page).to_have_url(re.compile(r"/request/review$"))
    expect(page.locator(".review")).to_contain_text(LONG_WORD[:100])
    check("wizard: review")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    check("sent")

    (verify,) = mail.inbox.wait_for(ANNA)
    link = re.search(r"http://127\.0\.0\.1:\d+/request/confirm\?token=\S+", body(verify))
    assert link, body(verify)
    page.goto(link.group(0))
    expect(page.locator("h1")).to_have_text("File your request")
    check("filing link")
    page.get_by_role("button", name="File my request").click()
    expect(page.locator(".success")).to_contain_text("Your request is filed")
    check("status page, just filed")

    confirmation = mail.inbox.wait_for(ANNA, count=2)[-1]
    status = re.search(r"http://127\.0\.0\.1:\d+/tickets/\S+", body(confirmation))
    assert status, body(confirmation)
    page.goto(status.group(0))
    expect(page.locator("h1")).to_contain_text("A mailbox is not working")
    check("status page")
    page.goto(base + "/tickets/T-AAAA-BBBB")
    check("status page without a link")

    assert wide == {}, f"pages wider than the viewport (viewport: document width): {wide}"
