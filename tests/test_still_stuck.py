"""'Didn't solve it?' under every article leads into the wizard with that article's
request types suggested first."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from starlette.testclient import TestClient

from tests.support.forms import csrf


def test_an_articles_request_types_come_first_in_the_wizard(browser_client: TestClient) -> None:
    c = browser_client
    article = c.get("/articles/email-not-working.html")
    link = re.search(r'href="([^"]*request\?article=email-not-working[^"]*)"', article.text)
    assert link, "the article ends with a way into the wizard"
    target = urljoin("/articles/email-not-working.html", link.group(1).replace("&amp;", "&"))
    start = c.get(target)
    assert "It sounds like" in start.text
    assert 'name="suggested"' in start.text
    suggested = re.search(r'name="suggested" value="([^"]+)"', start.text)
    assert suggested
    first = suggested.group(1).split(",")[0]
    r = c.post(
        "/request",
        data={"csrf_token": csrf(c), "text": "still no mail", "suggested": suggested.group(1)},
        follow_redirects=True,
    )
    assert r.status_code == 200
    # on the choose step the article's first request type is the one preselected
    checked = re.findall(r'value="([\w-]+)" checked', r.text)
    assert checked and checked[0] == first
