"""Walking the request wizard over HTTP, and the files it accepts."""

from __future__ import annotations

import struct
import zlib

import httpx2 as httpx

from tests.support.forms import post

# the details of ``email-not-working`` as the details form posts them
MAILBOX_DETAILS = {
    "detail_mailbox": "info@lindqvist.example",
    "detail_error_message": "550 mailbox unavailable",
    "detail_occurred_at": "2026-01-05T09:40",
    "detail_doing": "sending a test",
}


def describe(client: httpx.Client, text: str) -> None:
    """The first step: the description; the wizard moves on to choosing."""
    r = post(client, "/request", {"text": text})
    assert r.status_code == 303 and r.headers["location"] == "/request/choose"


def choose(
    client: httpx.Client,
    request_type: str,
    plan: str = "standard",
    role: str = "primary",
    **extra: str,
) -> httpx.Response:
    """The choose step for account HH-10234 and ops@example.com unless ``extra``
    says otherwise."""
    return post(
        client,
        "/request/choose",
        {
            "request_type": request_type,
            "account": "HH-10234",
            "email": "ops@example.com",
            "plan": plan,
            "role": role,
            "tz": "America/New_York",
            **extra,
        },
    )


def prepare_request(
    client: httpx.Client,
    *,
    email: str = "anna@lindqvist.example",
    account: str = "HH-10234",
    request_type: str = "email-not-working",
    plan: str = "standard",
    role: str = "primary",
    details: dict[str, str] | None = None,
    priority: str = "high",
    accept: bool = False,
) -> httpx.Response:
    """Every step up to and including sending the review; returns the review's answer."""
    post(client, "/request", {"text": "my mailbox does not receive mail"})
    post(
        client,
        "/request/choose",
        {
            "request_type": request_type,
            "account": account,
            "email": email,
            "plan": plan,
            "role": role,
            "tz": "Europe/Berlin",
        },
    )
    post(client, "/request/coverage", {"accept_charges": "yes"} if accept else {})
    fields = details or MAILBOX_DETAILS
    r = post(client, "/request/details", {**fields, "priority": priority})
    assert r.status_code == 303, r.text
    return post(client, "/request/review", {})


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"\x00\xff\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
