"""The paths that leave the portal in mail (filing links, status links) and in the
CLI's output, declared once: portal/app.py routes them, and links are built from
them with the public base URL (``PORTAL_BASE_URL``), since mail is written where no
request is at hand (the outbox, the CLI). Pages build every other URL from its route
name (``url()`` in templates, ``request.url_for`` in views)."""

from __future__ import annotations

import urllib.parse

CONFIRM = "/request/confirm"  # the emailed filing link
TICKET = "/tickets/{number}"  # a ticket's status page
ARTICLE = "/articles/{slug}.html"
SIGNIN_LINK = "/signin/link"  # the e-mailed one-click sign-in link


def _absolute(base_url: str, path: str, **query: str) -> str:
    url = base_url.rstrip("/") + path
    return url + ("?" + urllib.parse.urlencode(query) if query else "")


def confirm_link(base_url: str, token: str) -> str:
    return _absolute(base_url, CONFIRM, token=token)


def status_link(base_url: str, number: str, token: str) -> str:
    return _absolute(base_url, TICKET.format(number=urllib.parse.quote(number)), token=token)


def article_link(base_url: str, slug: str) -> str:
    return _absolute(base_url, ARTICLE.format(slug=slug))


def signin_link(base_url: str, token: str) -> str:
    return _absolute(base_url, SIGNIN_LINK, token=token)
