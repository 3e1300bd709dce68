"""The built site on a plain static host (``python -m http.server``, no portal): its
search.html searches the Pagefind bundles in the browser, merging several of them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from kb import layout
from kb.build import BuildOptions, build, static_search
from tests.conftest import article, write_tree
from tests.support.servers import LiveServer, free_port

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def unexpected(errors: list[str]) -> list[str]:
    """Console errors other than the one expected 404: the page asks api/search once
    whether a portal serves it, and a static host has none."""
    return [e for e in errors if "404" not in e]


@pytest.fixture(scope="module")
def static_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("static-host")
    content = write_tree(
        base / "content",
        {
            "articles/help/_category.yaml": "title: Help\norder: 1\ndescription: Help.\n",
            "articles/help/reset-password.md": article(
                "Reset your password", "How to reset a forgotten password.", "Use the reset link."
            ),
            "articles/help/odd.md": article(
                "Odd characters",
                "Markup in the text.",
                "Typing <img src=x onerror=alert(1)> breaks nothing: kumquat.",
            ),
        }
        | {
            f"articles/help/topic-{i}.md": article(f"Topic {i}", "A topic.", f"Text about {i}.")
            for i in range(8)
        },
    )
    out = base / "out"
    shard_pages = static_search.SHARD_PAGES
    static_search.SHARD_PAGES = 2  # several bundles: the browser merges them
    try:
        build(
            BuildOptions(
                content_dir=content,
                out_dir=out,
                use_git_dates=False,
                base_url="http://portal.invalid/",
            )
        )
    finally:
        static_search.SHARD_PAGES = shard_pages
    site = layout.site_dir(out)
    assert site is not None
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):  # bounded: the server answers within a second or two
            try:
                with _DIRECT.open(url + "search.html", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_search_html_runs_the_query_from_the_url(
    page: Page, console_errors: list[str], static_host: str
) -> None:
    page.goto(static_host + "search.html?q=password")
    first = page.locator("#static-results .hit h2 a").first
    expect(first).to_have_text("Reset your password", timeout=10_000)
    expect(page.locator("#static-results .snippet mark").first).to_be_visible()
    first.click()
    expect(page).to_have_url(re.compile(r"/articles/reset-password\.html$"))
    assert unexpected(console_errors) == []


def test_header_search_leads_to_search_html(page: Page, static_host: str) -> None:
    page.goto(static_host + "articles/topic-3.html")
    page.get_by_label("Search the knowledge base").fill("topic 5")
    page.get_by_label("Search the knowledge base").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\.html\?q=topic%205$"))
    expect(page.locator("#static-results .hit h2 a").first).to_have_text("Topic 5", timeout=10_000)
    # the bundles of several shards were merged: all ten topics' pages are found
    page.get_by_label("What do you need help with?").fill("topic")
    page.get_by_label("What do you need help with?").press("Enter")
    expect(page.locator("#static-results .hit")).to_have_count(8, timeout=10_000)
    expect(page).to_have_url(re.compile(r"search\.html\?q=topic$"))


def test_nothing_found_offers_topics_and_ask_us(page: Page, static_host: str) -> None:
    page.goto(static_host + "search.html?q=ssl+certificate")
    expect(page.locator("#static-status")).to_have_text("0 articles found.", timeout=10_000)
    fallback = page.locator("#static-fallback")
    expect(fallback).to_be_visible()
    expect(fallback.get_by_role("link", name="Help")).to_be_visible()
    ask = fallback.get_by_role("link", name="Ask us")
    expect(ask).to_have_attribute("href", "http://portal.invalid/request?text=ssl%20certificate")


def test_article_text_never_becomes_markup(
    page: Page, console_errors: list[str], static_host: str
) -> None:
    page.goto(static_host + "search.html?q=kumquat")
    expect(page.locator("#static-results .hit h2 a").first).to_have_text(
        "Odd characters", timeout=10_000
    )
    assert page.locator("#static-results img").count() == 0
    expect(page.locator("#static-results .snippet").first).to_contain_text("kumquat")
    assert unexpected(console_errors) == []


# --- the same pages served by the portal: the server searches --------------------------


def test_served_by_the_portal_search_html_hands_over_to_the_server(
    page: Page, console_errors: list[str], live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/search.html?q=pasword")
    expect(page).to_have_url(re.compile(r"/search\?q=pasword$"), timeout=10_000)
    expect(page.locator(".suggestion")).to_contain_text("Did you mean password")
    # an article's header search goes to the server's /search too
    page.goto(live_server.url + "/articles/email-not-working.html")
    page.get_by_label("Search the knowledge base").fill("cancel my dedicated server")
    page.get_by_label("Search the knowledge base").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=cancel"), timeout=10_000)
    expect(page.locator(".hit h2 a").first).to_have_text(re.compile("cancel", re.I))
    assert console_errors == []


def test_a_weak_result_page_offers_ask_us(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/search?q=ssl+certificate")
    section = page.locator(".no-dead-end")
    expect(section).to_be_visible()
    ask = section.get_by_role("link", name="Ask us")
    expect(ask).to_have_attribute("href", "/request?text=ssl%20certificate")
    ask.click()
    expect(page).to_have_url(re.compile(r"/request\?text=ssl"))
