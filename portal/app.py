"""The Starlette application: one explicit list of routes."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import AsyncIterator

import anyio
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb import layout, search
from kb.paths import DEFAULT_STATIC
from portal import api, openapi, ratelimit, urls
from portal.accounts import views as accounts
from portal.alerts import scan as alerts
from portal.config import Settings
from portal.db.engine import Database
from portal.helpdesk.base import ExternalHelpdesk
from portal.helpdesk.choose import external as external_helpdesk
from portal.incidents import views as incidents
from portal.kb import views as views_kb
from portal.kb.building import site_name
from portal.kb.preview import Preview
from portal.kb.store import KnowledgeBase
from portal.mailin import imap
from portal.mailin import views as mailin
from portal.notices import drain as notices_drain
from portal.notices import scan as notices_scan
from portal.policy import views as views_policy
from portal.policy.store import PolicyStore
from portal.security import (
    AllowedHostsMiddleware,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
    security_headers,
)
from portal.sessions import SessionMiddleware
from portal.staff import incidents as staff_incidents
from portal.staff import views as staff
from portal.templating import make_templates, render
from portal.tickets import helpdesk_scrip, helpdesk_sync
from portal.tickets import views as tickets
from portal.tickets.outbox import deliverer_for
from portal.wizard import uploads
from portal.wizard import views as wizard

log = logging.getLogger("portal")
OUTBOX_POLL_SECONDS = 5.0
OUTBOX_BATCH = 50  # rows per delivery round; a full round goes on without waiting
# the outbox loop also prunes uploads (``portal uploads prune``) this often, forgetting
# wizard drafts untouched for PRUNE_AGE
PRUNE_INTERVAL_SECONDS = 3600.0
PRUNE_AGE = dt.timedelta(hours=24)


def ensure_built(settings: Settings) -> bool:
    """Build the knowledge base when there is no usable build (first start, or a
    missing or corrupted index). Returns True when it had to build."""
    gen = layout.current_generation(settings.build_dir)
    if gen is not None and search.is_valid_index(gen / layout.INDEX, settings.search_engine):
        return False
    from portal.kb.building import build_from_settings

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
    """Database and index, each ``ok`` or what is wrong; 503 when either is down. The
    database counts as down when a write would fail now (read-only, unreachable, disk
    full): see ``Database.health``."""
    kb: KnowledgeBase = request.app.state.kb
    db: Database = request.app.state.db
    database = await anyio.to_thread.run_sync(db.health)
    index = "ok" if kb.searcher.ready else "missing"
    ok = database == "ok" and index == "ok"
    return JSONResponse(
        {
            "status": "ok" if ok else "degraded",
            "database": database,
            "index": index,
            "articles": kb.searcher.doc_count(),
        },
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


API_METHODS: dict[str, str] = {}  # path -> the one method each JSON API route takes


def api_route(path: str, endpoint: api.View, operation: api.Operation, *, name: str) -> Route:
    """A JSON API route carrying its declared operation (``portal.openapi`` documents
    it, the view validates with it). Input that does not match the declaration
    (``api.Invalid``) is answered as JSON; other methods get 405 and an Allow header
    (instead of falling through to the site's catch-all route)."""
    method = operation.method
    allowed = {method, "HEAD"} if method == "GET" else {method}
    API_METHODS[path] = method

    @functools.wraps(endpoint)  # the view's module, name and docstring
    async def guarded(request: Request) -> Response:
        if request.method not in allowed:
            return JSONResponse(
                {"error": "Method Not Allowed"},
                status_code=405,
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        try:
            return await endpoint(request)
        except api.Invalid as exc:
            return JSONResponse(exc.content(), status_code=exc.status)

    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
    return api.ApiRoute(path, guarded, view=endpoint, operation=operation, methods=every, name=name)


ERROR_TITLES = {
    400: "We could not read that",
    403: "That did not work",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Please check what you sent",
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
    deliverer = deliverer_for(app.state.db, settings, policy)
    app.state.deliverer = deliverer
    wake: anyio.Event = app.state.outbox_wake
    next_prune = time.monotonic()  # once at start, then every PRUNE_INTERVAL_SECONDS
    # next runs
    timers = {"mail": time.monotonic(), "alerts": time.monotonic(), "notices": time.monotonic()}
    # an external helpdesk's changes (status, replies), every PORTAL_HELPDESK_POLL seconds
    helpdesk = external_helpdesk(list(deliverer.connectors.values()))
    next_helpdesk_poll = time.monotonic()
    while True:
        # (or at once when an RT scrip asked for it: portal.tickets.helpdesk_scrip)
        asked = getattr(app.state, "helpdesk_poll_now", False)
        if helpdesk is not None and (asked or time.monotonic() >= next_helpdesk_poll):
            app.state.helpdesk_poll_now = False
            next_helpdesk_poll = time.monotonic() + settings.helpdesk_poll
            await _poll_helpdesk(app, helpdesk)
        backlog = False
        try:
            done = await anyio.to_thread.run_sync(
                functools.partial(deliverer.deliver_due, limit=OUTBOX_BATCH)
            )
            # a full batch: more may be due, so go on at once instead of waiting
            backlog = done.delivered + done.failed >= OUTBOX_BATCH
        except OperationalError as exc:  # the database is down or read-only: try again
            log.warning("outbox: database unavailable: %s", str(exc.orig).splitlines()[0])
        except Exception:
            log.exception("outbox delivery failed")
        if time.monotonic() >= next_prune:
            next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
            try:
                report = await anyio.to_thread.run_sync(_prune_uploads, app)
                if report.uploads or report.files or report.drafts:
                    log.warning("uploads pruned: %s", report.summary())
            except OperationalError as exc:
                next_prune = time.monotonic() + OUTBOX_POLL_SECONDS * 12  # soon again
                log.warning("upload prune: database unavailable: %s", exc.orig)
            except Exception:
                log.exception("upload prune failed")
        await _mail_in_and_alerts(app, timers)
        await _scheduled_notices(app, timers)
        wait = 0.0 if backlog else OUTBOX_POLL_SECONDS
        if helpdesk is not None:
            wait = max(0.05, min(wait, next_helpdesk_poll - time.monotonic()))
        if settings.imap_url:  # PORTAL_IMAP_POLL may be shorter than the outbox's poll
            wait = max(0.05, min(wait, timers["mail"] - time.monotonic()))
        with anyio.move_on_after(wait):
            await wake.wait()
        wake = app.state.outbox_wake = anyio.Event()


async def _mail_in_and_alerts(app: Starlette, timers: dict[str, float]) -> None:
    """Read customers' answers from PORTAL_IMAP_URL every PORTAL_IMAP_POLL seconds
    (``portal.mailin``) and queue the staff notifications owed every
    ``alerts.SCAN_INTERVAL_SECONDS`` (``portal.alerts``); failures wait for the next
    time. What they queue is delivered at once."""
    settings: Settings = app.state.settings
    queued = False
    if settings.imap_url and time.monotonic() >= timers["mail"]:
        timers["mail"] = time.monotonic() + settings.imap_poll
        policy = app.state.policy.get()
        provider = policy.provider.name if policy else settings.site_name
        poll = functools.partial(imap.poll, app.state.db, settings, provider=provider)
        try:
            report = await anyio.to_thread.run_sync(poll)
            if report.seen:
                log.warning("mail in: %s", report.summary())
                queued = True
        except Exception as exc:  # the mailbox or the database is down
            log.warning("mail in: %s: %s", type(exc).__name__, exc)
    if time.monotonic() >= timers["alerts"]:
        timers["alerts"] = time.monotonic() + alerts.SCAN_INTERVAL_SECONDS
        scan = functools.partial(alerts.run, app.state.db, settings)
        try:
            found = await anyio.to_thread.run_sync(lambda: scan(now=dt.datetime.now(dt.UTC)))
            queued = queued or found.queued > 0
        except Exception as exc:
            log.warning("staff notifications: %s: %s", type(exc).__name__, exc)
    if queued and app.state.outbox_wake is not None:
        app.state.outbox_wake.set()


async def _scheduled_notices(app: Starlette, timers: dict[str, float]) -> None:
    """Schedule the notices owed every ``notices_scan.SCAN_INTERVAL_SECONDS`` and send
    the due ones at every turn of the loop (``portal.notices``); what they queue is
    delivered at once."""
    policy = app.state.policy.get()
    if policy is None:
        return
    now = dt.datetime.now(dt.UTC)
    db, settings = app.state.db, app.state.settings
    try:
        if time.monotonic() >= timers["notices"]:
            timers["notices"] = time.monotonic() + notices_scan.SCAN_INTERVAL_SECONDS
            scan = functools.partial(notices_scan.run, db, policy, now=now)
            await anyio.to_thread.run_sync(scan)
        send = functools.partial(notices_drain.drain_all, db, policy, settings, now=now)
        report = await anyio.to_thread.run_sync(send)
    except Exception as exc:  # the database is down: the same notices next time
        log.warning("scheduled notices: %s: %s", type(exc).__name__, exc)
        return
    if report.sent and app.state.outbox_wake is not None:
        app.state.outbox_wake.set()


async def _poll_helpdesk(app: Starlette, helpdesk: ExternalHelpdesk) -> None:
    """One poll of the external helpdesk (``portal.helpdesk.sync``); failures are
    logged and the next poll reads from the same place."""
    poll = functools.partial(
        helpdesk_sync.poll, app.state.db, app.state.policy.get(), app.state.settings, helpdesk
    )
    try:
        await anyio.to_thread.run_sync(poll)
    except OperationalError as exc:
        log.warning("helpdesk poll: database unavailable: %s", str(exc.orig).splitlines()[0])
    except Exception as exc:  # e.g. the helpdesk is down: the same changes next time
        log.warning("helpdesk poll failed: %s: %s", type(exc).__name__, exc)


def _prune_uploads(app: Starlette) -> uploads.PruneReport:
    settings: Settings = app.state.settings
    return uploads.prune(
        app.state.db,
        settings.upload_dir,
        older_than=PRUNE_AGE,
        verify_max_age=settings.verify_max_age,
        now=dt.datetime.now(dt.UTC),
    )


def _unavailable(request: Request, message: str) -> Response:
    """503 with Retry-After: JSON under /api/, a page elsewhere."""
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


async def database_down(request: Request, exc: Exception) -> Response:
    """The database is unreachable: say so plainly; nothing was half-written (every
    change is one transaction)."""
    log.error("database unavailable: %s", exc)
    return _unavailable(
        request,
        "We cannot reach our database right now, so nothing was saved. "
        "Please try again in a few minutes; what you typed is still in your browser "
        "(use the back button).",
    )


async def storage_down(request: Request, exc: Exception) -> Response:
    """An upload could not be written (disk full, read-only volume): nothing of it was
    kept (``uploads.store`` removes its temporary file)."""
    log.error("upload storage unavailable: %s", exc)
    return _unavailable(
        request,
        "We cannot store files right now, so nothing was saved. Please try again in a few "
        "minutes; what you typed is still in your browser (use the back button).",
    )


async def limits_down(request: Request, exc: Exception) -> Response:
    """The rate-limit store (Redis) is unreachable: nothing was counted or sent."""
    log.error("rate-limit store unavailable: %s", exc)
    return _unavailable(
        request,
        "We cannot accept requests right now, so nothing was sent. "
        "Please try again in a few minutes; nothing you typed is lost.",
    )


SERVER_ERROR = (
    "Something went wrong on our side. Please try again in a few minutes; if it keeps "
    "happening, contact us another way."
)


async def server_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: 500, JSON under /api/ and a page elsewhere, never a
    traceback. Starlette runs this outside the middleware stack (ServerErrorMiddleware,
    which logs the exception afterwards), so the security headers are added here."""
    settings: Settings = request.app.state.settings
    headers = {**security_headers(https=settings.https), "Cache-Control": "no-store"}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": SERVER_ERROR}, status_code=500, headers=headers)
    try:
        response = render(
            request,
            "message.html",
            {"title": "Something went wrong", "message": SERVER_ERROR},
            status_code=500,
        )
    except Exception:  # the page itself may be what fails
        response = PlainTextResponse(SERVER_ERROR, status_code=500)
    response.headers.update(headers)
    return response


def create_app(
    settings: Settings | None = None, *, build_if_missing: bool = True, run_outbox: bool = True
) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # a database that is down or read-only at start must not keep the portal down:
        # the migrations are retried before its next use
        await anyio.to_thread.run_sync(app.state.db.upgrade_or_defer)
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
        # the knowledge base: the built site, search
        Route("/", views_kb.home, name="kb.home"),
        Route("/search", views_kb.search_page, name="kb.search"),
        api_route("/api/search", views_kb.search_api, views_kb.SEARCH_API, name="api.search"),
        # pages and API generated from the policy
        Route("/plans", views_policy.plans_page, name="policy.plans"),
        Route("/coverage", views_policy.coverage_page, name="policy.coverage"),
        api_route(
            "/api/triage", views_policy.triage_api, views_policy.TRIAGE_API, name="api.triage"
        ),
        # the request wizard (its last step, sending, is filing's: tickets.send_review)
        Route("/request", wizard.describe, methods=["GET", "POST"], name="wizard.describe"),
        Route("/request/suggest", wizard.suggest_fragment, methods=["POST"], name="wizard.suggest"),
        Route("/request/solved", wizard.solved, methods=["POST"], name="wizard.solved"),
        Route("/request/restart", wizard.restart, methods=["POST"], name="wizard.restart"),
        Route("/request/choose", wizard.choose, methods=["GET", "POST"], name="wizard.choose"),
        Route(
            "/request/coverage",
            wizard.coverage_step,
            methods=["GET", "POST"],
            name="wizard.coverage",
        ),
        Route("/request/details", wizard.details, methods=["GET", "POST"], name="wizard.details"),
        Route("/request/review", wizard.review, methods=["GET"], name="wizard.review"),
        Route("/request/review", tickets.send_review, methods=["POST"], name="tickets.send"),
        # filing and following tickets
        Route(urls.CONFIRM, tickets.confirm, methods=["GET", "POST"], name="tickets.confirm"),
        Route("/tickets/link", tickets.request_link, methods=["POST"], name="tickets.link"),
        Route(urls.TICKET, tickets.status_page, name="tickets.status"),
        Route(
            "/tickets/{number}/attachments/{upload}",
            tickets.attachment,
            name="tickets.attachment",
        ),
        Route(
            "/tickets/{number}/{kind}", tickets.add_to_ticket, methods=["POST"], name="tickets.add"
        ),
        api_route("/api/requests", tickets.api_requests, tickets.REQUESTS_API, name="api.requests"),
        api_route("/api/inbound", mailin.inbound, mailin.INBOUND_API, name="api.inbound"),
        api_route(
            "/api/helpdesk/rt", helpdesk_scrip.rt_scrip, helpdesk_scrip.RT_SCRIP_API, name="api.rt"
        ),
        # signing in by e-mailed code, "my requests" (portal/accounts)
        Route("/signin", accounts.signin_page, methods=["GET"], name="accounts.signin_page"),
        Route("/signin", accounts.signin_start, methods=["POST"], name="accounts.signin"),
        Route("/signin/code", accounts.signin_code, methods=["POST"], name="accounts.code"),
        Route(urls.SIGNIN_LINK, accounts.signin_link, name="accounts.link"),
        Route("/signin/pick", accounts.signin_pick, methods=["POST"], name="accounts.pick"),
        Route("/signout", accounts.signout, methods=["POST"], name="accounts.signout"),
        Route(
            "/signout/everywhere",
            accounts.signout_everywhere,
            methods=["POST"],
            name="accounts.signout_everywhere",
        ),
        Route("/requests", accounts.requests_page, name="accounts.requests"),
        api_route("/api/signin", accounts.api_signin, accounts.SIGNIN_API, name="api.signin"),
        api_route(
            "/api/signin/verify",
            accounts.api_verify,
            accounts.VERIFY_API,
            name="api.signin_verify",
        ),
        api_route("/api/me", accounts.api_me, accounts.ME_API, name="api.me"),
        api_route(
            "/api/me/requests",
            accounts.api_my_requests,
            accounts.MY_REQUESTS_API,
            name="api.me_requests",
        ),
        api_route("/api/signout", accounts.api_signout, accounts.SIGNOUT_API, name="api.signout"),
        api_route("/api/openapi.json", openapi.openapi, openapi.OPENAPI, name="api.openapi"),
        # known incidents and planned maintenance (#15, portal/incidents)
        Route("/status", incidents.status_page, name="incidents.status"),
        Route(
            "/status/{incident:int}/subscribe",
            incidents.subscribe,
            methods=["POST"],
            name="incidents.subscribe",
        ),
        # the staff console (#15)
        Route("/staff", staff.queue_page, name="staff.queue"),
        Route(
            "/staff/incidents",
            staff_incidents.incidents_page,
            methods=["GET", "POST"],
            name="staff.incidents",
        ),
        Route(
            "/staff/incidents/{incident:int}",
            staff_incidents.incident_page,
            methods=["GET", "POST"],
            name="staff.incident",
        ),
        Route("/staff/login", staff.login, methods=["GET", "POST"], name="staff.login"),
        Route("/staff/logout", staff.logout, methods=["POST"], name="staff.logout"),
        Route(
            "/staff/password", staff.set_password, methods=["GET", "POST"], name="staff.password"
        ),
        Route("/staff/tickets/{number}", staff.ticket_page, name="staff.ticket"),
        Route(
            "/staff/tickets/{number}/attachments/{upload}",
            staff.attachment,
            name="staff.attachment",
        ),
        Route(
            "/staff/tickets/{number}/{action}",
            staff.ticket_action,
            methods=["POST"],
            name="staff.action",
        ),
        # operations
        Route("/healthz", healthz, name="healthz"),
        Route("/_preview/events", preview_events, name="kb.preview_events"),
        Mount("/static", StaticFiles(directory=str(DEFAULT_STATIC)), name="static"),
        Route("/{path:path}", views_kb.site_file, name="kb.site"),
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
        exception_handlers={
            HTTPException: http_error,
            OperationalError: database_down,
            uploads.StorageError: storage_down,
            ratelimit.Unavailable: limits_down,
            Exception: server_error,
        },
    )
    app.state.db = Database(settings.database_url)
    app.state.outbox_wake = None  # an anyio.Event once the loop runs
    app.state.settings = settings
    app.state.kb = KnowledgeBase(settings.build_dir)
    app.state.policy = PolicyStore(settings.policy_file)
    app.state.templates = make_templates(
        site_name(settings, app.state.policy.get()), preview=settings.preview
    )
    app.state.preview = Preview(settings) if settings.preview else None
    return app
