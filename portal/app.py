"""The Starlette application: one explicit list of routes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb import layout, search
from kb.build import DEFAULT_STATIC
from portal import views_kb, views_policy
from portal.config import Settings
from portal.db.engine import Database
from portal.knowledge import KnowledgeBase
from portal.mail import mailer_for
from portal.openapi import openapi
from portal.policy_store import PolicyStore
from portal.preview import Preview
from portal.security import (
    AllowedHostsMiddleware,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
)
from portal.sessions import SessionMiddleware
from portal.templating import make_templates, render
from portal.tickets import views as tickets
from portal.tickets.outbox import Deliverer
from portal.wizard import views as wizard

log = logging.getLogger("portal")
OUTBOX_POLL_SECONDS = 5.0


def ensure_built(settings: Settings) -> bool:
    """Build the knowledge base when there is no usable build (first start, or a
    missing or corrupted index). Returns True when it had to build."""
    gen = layout.current_generation(settings.build_dir)
    if gen is not None and search.is_valid_index(gen / layout.INDEX):
        return False
    from portal.building import build_from_settings

    log.warning("no valid knowledge-base build in %s: building now", settings.build_dir)
    report = build_from_settings(settings, clean=True)
    log.warning(report.summary())
    return True


async def preview_events(request: Request) -> Response:
    preview: Preview | None = request.app.state.preview
    if preview is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return await preview.events(request)


async def healthz(request: Request) -> Response:
    kb: KnowledgeBase = request.app.state.kb
    ok = kb.searcher.ready
    return JSONResponse(
        {"status": "ok" if ok else "no index", "articles": kb.searcher.doc_count()},
        status_code=200 if ok else 503,
    )


def api_route(path: str, endpoint: Any, method: str) -> Route:
    """A JSON API route that answers other methods with 405 and an Allow header
    (instead of falling through to the site's catch-all route)."""
    allowed = {method, "HEAD"} if method == "GET" else {method}

    async def guarded(request: Request) -> Response:
        if request.method not in allowed:
            return JSONResponse(
                {"error": "Method Not Allowed"},
                status_code=405,
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        response: Response = await endpoint(request)
        return response

    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
    return Route(path, guarded, methods=every, name=endpoint.__name__)


ERROR_TITLES = {
    400: "We could not read that",
    403: "That did not work",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    503: "Temporarily unavailable",
}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.method == "GET":
        return views_kb.not_found(request)
    headers = dict(exc.headers or {})  # e.g. Allow on 405
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
    response = render(
        request,
        "message.html",
        {"title": ERROR_TITLES.get(exc.status_code, "Something went wrong"), "message": exc.detail},
        status_code=exc.status_code,
    )
    response.headers.update(headers)
    return response


async def _outbox_worker(app: Starlette) -> None:
    """Deliver mail and webhooks in the background; woken when something is queued."""
    settings: Settings = app.state.settings
    policy = app.state.policy.get()
    deliverer = Deliverer(
        app.state.db,
        mailer_for(settings.smtp_url),
        sender=settings.mail_from,
        sender_name=policy.provider.name + " support" if policy else settings.site_name,
        webhook_secret=settings.webhook_secret,
    )
    app.state.deliverer = deliverer
    wake: anyio.Event = app.state.outbox_wake
    while True:
        try:
            await anyio.to_thread.run_sync(deliverer.deliver_due)
        except Exception:  # the database may be briefly unavailable; try again
            log.exception("outbox delivery failed")
        with anyio.move_on_after(OUTBOX_POLL_SECONDS):
            await wake.wait()
        wake = app.state.outbox_wake = anyio.Event()


async def database_down(request: Request, exc: Exception) -> Response:
    """The database is unreachable: say so plainly; nothing was half-written (every
    change is one transaction)."""
    log.error("database unavailable: %s", exc)
    message = (
        "We cannot reach our database right now, so nothing was saved. "
        "Please try again in a few minutes; what you typed is still in your browser "
        "(use the back button)."
    )
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "60"})
    response = render(
        request,
        "message.html",
        {"title": "Temporarily unavailable", "message": message},
        status_code=503,
    )
    response.headers["Retry-After"] = "60"
    return response


def create_app(
    settings: Settings | None = None, *, build_if_missing: bool = True, run_outbox: bool = True
) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(app.state.db.upgrade)
        preview: Preview | None = app.state.preview
        if preview is not None:
            await anyio.to_thread.run_sync(preview.rebuild)
        elif build_if_missing:
            await anyio.to_thread.run_sync(ensure_built, settings)
        app.state.outbox_wake = anyio.Event()
        async with anyio.create_task_group() as tasks:
            if run_outbox:
                tasks.start_soon(_outbox_worker, app)
            if preview is not None:
                tasks.start_soon(preview.watch)
            yield
            tasks.cancel_scope.cancel()
        app.state.db.dispose()

    routes = [
        Route("/", views_kb.home, name="home"),
        Route("/search", views_kb.search_page, name="search"),
        api_route("/api/search", views_kb.search_api, "GET"),
        Route("/plans", views_policy.plans_page, name="plans"),
        Route("/coverage", views_policy.coverage_page, name="coverage"),
        api_route("/api/triage", views_policy.triage_api, "POST"),
        Route("/request", wizard.describe, methods=["GET", "POST"], name="request"),
        Route("/request/suggest", wizard.suggest_fragment, methods=["POST"], name="suggest"),
        Route("/request/solved", wizard.solved, methods=["POST"], name="solved"),
        Route("/request/restart", wizard.restart, methods=["POST"], name="restart"),
        Route("/request/choose", wizard.choose, methods=["GET", "POST"], name="choose"),
        Route(
            "/request/coverage", wizard.coverage_step, methods=["GET", "POST"], name="coverage_step"
        ),
        Route("/request/details", wizard.details, methods=["GET", "POST"], name="details"),
        Route("/request/review", wizard.review, methods=["GET", "POST"], name="review"),
        Route("/request/confirm", tickets.confirm, methods=["GET", "POST"], name="confirm"),
        Route("/tickets/{number}", tickets.status_page, name="ticket"),
        Route(
            "/tickets/{number}/attachments/{upload}", tickets.attachment, name="ticket_attachment"
        ),
        Route(
            "/tickets/{number}/{kind}", tickets.add_to_ticket, methods=["POST"], name="ticket_add"
        ),
        api_route("/api/requests", tickets.api_requests, "POST"),
        api_route("/api/openapi.json", openapi, "GET"),
        Route("/healthz", healthz, name="healthz"),
        Route("/_preview/events", preview_events, name="preview_events"),
        Mount("/static", StaticFiles(directory=str(DEFAULT_STATIC)), name="static"),
        Route("/{path:path}", views_kb.site_file, name="site"),
    ]
    middleware = [
        Middleware(AllowedHostsMiddleware, allowed_hosts=settings.allowed_hosts),
        Middleware(SecurityHeadersMiddleware, https=settings.https),
        # uploads plus room for the other fields; nothing else needs more
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes + 256 * 1024),
        Middleware(SessionMiddleware, secret_key=settings.secret_key, https=settings.https),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, OperationalError: database_down},
    )
    app.state.db = Database(settings.database_url)
    app.state.outbox_wake = None  # an anyio.Event once the loop runs
    app.state.settings = settings
    app.state.kb = KnowledgeBase(settings.build_dir)
    app.state.policy = PolicyStore(settings.policy_file)
    app.state.templates = make_templates(settings.site_name, preview=settings.preview)
    app.state.preview = Preview(settings) if settings.preview else None
    return app
