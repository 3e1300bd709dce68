"""POST /api/inbound: a raw mail, for providers whose mail service POSTs what it
receives instead of keeping it in an IMAP mailbox."""

from __future__ import annotations

import hashlib
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal import api, http
from portal.mailin import intake

SIGNATURE_HEADER = "X-Portal-Signature"

INBOUND_API = api.Operation(
    "POST",
    responses={
        202: api.Reply(
            "Received: what became of the mail (added to its ticket, noted on it as an "
            "internal note from the upstream provider or staff, refused, unmatched, "
            "ignored, empty, closed or duplicate)",
            {
                "type": "object",
                "required": ["outcome"],
                "properties": {
                    "outcome": {"type": "string"},
                    "ticket": {"type": ["string", "null"]},
                },
            },
        ),
        401: api.Reply("The X-Portal-Signature header is missing or does not match the body"),
        404: api.Reply("Inbound mail is not enabled here (no PORTAL_INBOUND_SECRET)"),
        413: api.Reply("The mail is too large"),
    },
)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def inbound(request: Request) -> Response:
    """Receive one raw mail (RFC 5322) for the tickets.

    The body is the mail as received, any media type (e.g. ``message/rfc822``); the
    header ``X-Portal-Signature: sha256=<hex>`` is the HMAC-SHA256 of the body with
    ``PORTAL_INBOUND_SECRET``. The mail is applied as if it were read from the IMAP
    mailbox: the ticket is found from its signed reply address or its References; a
    listed contact's answer lands in the ticket's thread, the upstream provider's or
    staff's answer to a mail we sent them becomes an internal note, anyone else gets a
    polite answer; sending the same mail again changes nothing. Off (404) without
    ``PORTAL_INBOUND_SECRET``."""
    settings = http.settings(request)
    if not settings.inbound_secret:
        return JSONResponse({"error": "inbound mail is not enabled here"}, status_code=404)
    limit = settings.max_upload_bytes + 256 * 1024  # as the body-size middleware
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return JSONResponse({"error": "the mail is too large"}, status_code=413)
    sent = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(
        sent.encode(), signature(settings.inbound_secret, bytes(body)).encode()
    ):
        return JSONResponse(
            {"error": f"the {SIGNATURE_HEADER} header does not match the body"}, status_code=401
        )
    provider = http.policy(request).provider.name  # 503 without a policy: sent again later
    outcome = await run_in_threadpool(
        intake.receive,
        http.database(request),
        settings,
        bytes(body),
        provider=provider,
        now=http.now(),
    )
    http.wake_outbox(request)
    return JSONResponse({"outcome": outcome.outcome, "ticket": outcome.number}, status_code=202)
