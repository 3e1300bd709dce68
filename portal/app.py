"""The Starlette application: one explicit list of routes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb import layout, search
from kb.build import DEFAULT_STATIC
from portal import views_kb, views_policy
from portal.config import Settings
from portal.knowledge import KnowledgeBase
from portal.policy_store import PolicyStore
from portal.security import AllowedHostsMiddleware, SecurityHeadersMiddleware
from portal.templating import make_templates

log = logging.getLogger("portal")


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


async def healthz(request: Request) -> Response:
    kb: KnowledgeBase = request.app.state.kb
    ok = kb.searcher.ready
    return JSONResponse(
        {"status": "ok" if ok else "no index", "articles": kb.searcher.doc_count()},
        status_code=200 if ok else 503,
    )


def create_app(settings: Settings | None = None, *, build_if_missing: bool = True) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if build_if_missing:
            await anyio.to_thread.run_sync(ensure_built, settings)
        yield

    routes = [
        Route("/", views_kb.home, name="home"),
        Route("/search", views_kb.search_page, name="search"),
        Route("/api/search", views_kb.search_api, name="api_search"),
        Route("/plans", views_policy.plans_page, name="plans"),
        Route("/coverage", views_policy.coverage_page, name="coverage"),
        Route("/api/triage", views_policy.triage_api, methods=["POST"], name="api_triage"),
        Route("/healthz", healthz, name="healthz"),
        Mount("/static", StaticFiles(directory=str(DEFAULT_STATIC)), name="static"),
        Route("/{path:path}", views_kb.site_file, name="site"),
    ]
    middleware = [
        Middleware(AllowedHostsMiddleware, allowed_hosts=settings.allowed_hosts),
        Middleware(SecurityHeadersMiddleware, https=settings.https),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.kb = KnowledgeBase(settings.build_dir)
    app.state.policy = PolicyStore(settings.policy_file)
    app.state.templates = make_templates(settings.site_name)
    return app
