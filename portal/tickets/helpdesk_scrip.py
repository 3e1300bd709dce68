"""POST /api/helpdesk/rt: an RT scrip tells the portal that one of its tickets changed,
so the portal reads RT's changes now instead of at the next ``PORTAL_HELPDESK_POLL``
(docs/helpdesks.md, "RT's scrips"). The request only wakes the outbox worker for a poll
and returns at once (a scrip runs inside RT's own request, so the portal must not call
RT back before it answers): what changed is read from RT's REST 2 as every poll reads
it, never taken from the request."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal import api, http

SIGNATURE_HEADER = "X-Portal-Signature"
MAX_BODY = 16 * 1024  # a scrip sends a few fields

RT_SCRIP_API = api.Operation(
    "POST",
    responses={
        202: api.Reply(
            "The outbox worker reads RT's changes now (status changes and public "
            "correspondence of the portal's tickets, each applied once)",
            {
                "type": "object",
                "required": ["poll"],
                "properties": {"poll": {"type": "string", "enum": ["queued"]}},
            },
        ),
        401: api.Reply("The X-Portal-Signature header is missing or does not match the body"),
        404: api.Reply(
            "Not enabled here (no PORTAL_HELPDESK_SECRET, or PORTAL_HELPDESK is not RT)"
        ),
        413: api.Reply("The body is too large"),
    },
)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def poll_soon(request: Request) -> None:
    """Ask this process's outbox worker for a helpdesk poll at its next turn, now."""
    request.app.state.helpdesk_poll_now = True
    http.wake_outbox(request)


async def rt_scrip(request: Request) -> Response:
    """Read Request Tracker's changes now (called by an RT scrip).

    The body is anything small the scrip sends (e.g. ``{"ticket": 42}``); the header
    ``X-Portal-Signature: sha256=<hex>`` is the HMAC-SHA256 of the body with
    ``PORTAL_HELPDESK_SECRET``. The portal's outbox worker then polls RT at once, as it
    does every ``PORTAL_HELPDESK_POLL`` seconds. Off (404) without
    ``PORTAL_HELPDESK_SECRET`` or when ``PORTAL_HELPDESK`` is not RT."""
    settings = http.settings(request)
    if not settings.helpdesk_secret or not settings.helpdesk.startswith("rt+"):
        return JSONResponse({"error": "RT's scrip endpoint is not enabled here"}, status_code=404)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "the body is too large"}, status_code=413)
    sent = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(
        sent.encode(), signature(settings.helpdesk_secret, bytes(body)).encode()
    ):
        return JSONResponse(
            {"error": f"the {SIGNATURE_HEADER} header does not match the body"}, status_code=401
        )
    poll_soon(request)
    return JSONResponse({"poll": "queued"}, status_code=202)
