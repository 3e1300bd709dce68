"""A real `portal serve --reload` process: an edited file shows up in the open tab."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.paths import CONTENT
from tests.support.servers import start_server


@pytest.fixture
def preview_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    env = {
        "PORTAL_BUILD_DIR": str(tmp_path / "build"),
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/portal.db",
        "PORTAL_SECRET_KEY": "preview-test",
    }
    serve = [sys.executable, "-m", "portal", "serve", "--reload", "--content", str(content)]
    with start_server(
        env, command=lambda port: [*serve, "--port", str(port)], timeout=60
    ) as server:
        yield server.url, content


def test_edit_reloads_the_open_tab(page: Page, preview_server: tuple[str, Path]) -> None:
    url, content = preview_server
    page.goto(url + "/articles/email-not-working.html")
    expect(page.locator("h1")).to_have_text("Email not working")
    page.wait_for_timeout(300)  # the page's event stream is connected
    path = content / "articles/hosting/email-not-working.md"
    path.write_text(path.read_text().replace("title: Email not working", "title: Mail is down?"))
    expect(page.locator("h1")).to_have_text("Mail is down?", timeout=5000)


def test_broken_article_shows_its_problems(page: Page, preview_server: tuple[str, Path]) -> None:
    url, content = preview_server
    page.goto(url + "/articles/website-not-loading.html")
    path = content / "articles/hosting/website-not-loading.md"
    path.write_text(path.read_text() + "\n[gone](no-such-article.md)\n")
    problems = page.locator(".preview-problems")
    expect(problems).to_contain_text("broken link: no article 'no-such-article'", timeout=5000)
    expect(page.locator("h1")).to_contain_text("Website")  # the last good page stays readable
    page.goto(url + "/articles/email-not-working.html")  # everything else keeps serving
    expect(page.locator(".preview-problems")).to_have_count(0)
