"""Posting the portal's forms the way a browser does: with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx2 as httpx

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# a file field: (name, bytes) or (name, bytes, content type)
Upload = tuple[str, bytes] | tuple[str, bytes, str]


def csrf(client: httpx.Client, url: str = "/request") -> str:
    """The CSRF token of the client's session, read from the form at ``url``."""
    page = client.get(url)
    match = TOKEN.search(page.text)
    assert match, (url, page.status_code)
    return match.group(1)


def post(
    client: httpx.Client,
    url: str,
    data: Mapping[str, str],
    *,
    files: Mapping[str, Upload] | None = None,
) -> httpx.Response:
    """POST a form with the session's CSRF token; redirects are not followed.
    (A starlette TestClient is an httpx client.)"""
    return client.post(
        url, data={"csrf_token": csrf(client), **data}, files=files, follow_redirects=False
    )
