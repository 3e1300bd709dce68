"""A customer in a real browser against a real uvicorn: search, articles, a11y."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import serious_violations
from tests.support.servers import LiveServer


def test_typing_shows_live_results_and_url_follows(
    page: Page, console_errors: list[str], live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/search")
    box = page.get_by_label("What do you need help with?")
    box.press_sequentially("my mailbox does not recei", delay=30)
    first = page.locator(".hit h2 a").first
    expect(first).to_have_text("Email not working", timeout=5000)
    expect(page).to_have_url(re.compile(r"/search\?q=my\+mailbox"), timeout=5000)
    # the page was not reloaded: the typed text is still in the box with focus
    expect(box).to_be_focused()
    assert console_errors == []


def test_typo_tolerance_and_did_you_mean(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/search")
    page.get_by_label("What do you need help with?").fill("pasword")
    expect(page.locator(".hit h2 a").first).to_have_text(re.compile("password"), timeout=5000)
    expect(page.locator(".suggestion")).to_contain_text("Did you mean password")


def test_search_without_javascript(nojs_page: Page, live_server: LiveServer) -> None:
    nojs_page.goto(live_server.url + "/")
    nojs_page.get_by_label("Search 36 help articles").fill("cancel my dedicated server")
    nojs_page.get_by_role("button", name="Search").last.click()
    expect(nojs_page).to_have_url(re.compile(r"/search\?q=cancel"))
    expect(nojs_page.locator(".hit h2 a").first).to_have_text(re.compile("cancel", re.I))
    nojs_page.locator(".facets a").first.click()
    expect(nojs_page.locator(".result-count")).to_contain_text(" in ")


def test_article_renders_with_breadcrumbs_and_related(
    page: Page, console_errors: list[str], live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/articles/email-not-working.html")
    expect(page.locator("h1")).to_have_text("Email not working")
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("Web hosting")
    expect(page.locator(".related")).to_be_visible()
    page.locator(".related a").first.click()
    expect(page.locator("h1")).not_to_have_text("Email not working")
    assert console_errors == []


def test_keyboard_reaches_search_with_visible_focus(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    outline = page.locator(".skip-link").evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"


def test_axe_home_search_article(page: Page, live_server: LiveServer) -> None:
    for path in [
        "/",
        "/search?q=password",
        "/articles/support-plans.html",
        "/categories/hosting.html",
        "/articles/does-not-exist.html",
    ]:
        page.goto(live_server.url + path)
        assert serious_violations(page) == [], path
