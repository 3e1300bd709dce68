"""The portal over HTTP, through the ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb import content
from tests.support.paths import CONTENT


def test_home_and_article_pages(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert "How can we help?" in home.text
    page = client.get("/articles/lost-admin-password.html")
    assert page.status_code == 200
    assert "<h1>Lost or forgotten administrator password</h1>" in page.text  # its title
    assert page.headers["cache-control"] == "no-cache"


def test_alias_redirects_permanently(client: TestClient) -> None:
    response = client.get("/articles/password-reset.html", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/articles/lost-admin-password.html"


def test_unknown_page_is_a_real_404(client: TestClient) -> None:
    response = client.get("/articles/no-such-thing.html")
    assert response.status_code == 404
    assert "We could not find that page" in response.text


def test_path_traversal_is_refused(client: TestClient) -> None:
    for path in ["/..%2f..%2fetc/passwd", "/static/../../pyproject.toml", "/%2e%2e/README.md"]:
        assert client.get(path).status_code == 404


def test_search_page_full_and_fragment(client: TestClient) -> None:
    full = client.get("/search", params={"q": "forgot administrator password"})
    assert full.status_code == 200
    assert "<html" in full.text and 'id="results"' in full.text
    assert "lost-admin-password" in full.text
    assert full.headers["vary"] == "HX-Request"
    fragment = client.get(
        "/search", params={"q": "forgot administrator password"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text
    assert "lost-admin-password" in fragment.text
    restore = client.get(
        "/search",
        params={"q": "password"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_search_page_escapes_the_query(client: TestClient) -> None:
    response = client.get("/search", params={"q": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


def test_search_page_no_results_and_suggestion(client: TestClient) -> None:
    response = client.get("/search", params={"q": "pasword"})
    assert "Did you mean" in response.text
    empty = client.get("/search", params={"q": "zzzzqqqq"})
    assert "Nothing matched" in empty.text


def test_search_api_shape(client: TestClient) -> None:
    data = client.get("/api/search", params={"q": "cancel my dedicated server", "limit": 3}).json()
    assert set(data) == {"query", "total", "suggestion", "hits"}
    assert len(data["hits"]) == 3
    hit = data["hits"][0]
    assert set(hit) == {"slug", "title", "url", "summary", "snippet", "category", "score"}
    assert hit["slug"] == "server-cancellation"
    assert hit["url"] == "/articles/server-cancellation.html"


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in [
        "/",
        "/search?q=x",
        "/api/search?q=x",
        "/articles/nope.html",
        "/static/css/site.css",
    ]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_untrusted_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_healthz(client: TestClient) -> None:
    data = client.get("/healthz").json()
    published = len(content.load(CONTENT).published())
    assert data["status"] == "ok" and data["articles"] == published  # every one indexed


def test_a_weak_search_offers_topics_articles_and_ask_us(client: TestClient) -> None:
    """No dead ends: "ssl certificate" finds little in the demo KB; the page offers the
    closest topics, the most helpful articles and "Ask us" with the words filled in."""
    page = client.get("/search", params={"q": "ssl certificate"})
    assert page.status_code == 200
    assert 'class="no-dead-end"' in page.text
    assert "/request?text=ssl%20certificate" in page.text
    asked = client.get("/request", params={"text": "ssl certificate"})
    assert ">ssl certificate</textarea>" in asked.text


def test_report_lists_searches_whose_results_nobody_opened(
    client: TestClient, app: Starlette
) -> None:
    """A settled search that found articles counts until someone opens a hit from it."""
    from portal import analytics

    db = app.state.db
    before = dict(analytics.report(db, top=100).unclicked_searches)
    for query in ("mailbox quota", "mailbox quota", "reset password"):
        assert client.get("/search", params={"q": query}).status_code == 200
    page = client.get("/search", params={"q": "reset password"})
    href = next(h for h in page.text.split('href="')[1:] if "?searched=" in h).split('"')[0]
    assert client.get(href.replace("&amp;", "&")).status_code == 200  # one hit opened
    after = dict(analytics.report(db, top=100).unclicked_searches)
    assert after.get("mailbox quota", 0) - before.get("mailbox quota", 0) == 2
    # two settled "reset password" searches, one opened hit (a click without a search
    # before it still counts against one)
    assert after.get("reset password", 0) - before.get("reset password", 0) == 1
