"""Knowledge-base pages: the built static site, search page and search API."""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

from kb.search import SearchResult, closest_categories
from portal import analytics, api, http, offload
from portal.incidents import views as incidents
from portal.templating import is_htmx, render

_ALIAS_PATH = re.compile(r"^articles/([\w-]+)\.html$")
_MAX_Q = 256


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return max(low, min(high, number))


def _serve(path: Any, *, status_code: int = 200) -> Response:
    name = str(path)
    cache = "no-cache" if name.endswith((".html", ".xml")) else "public, max-age=300"
    return FileResponse(path, status_code=status_code, headers={"Cache-Control": cache})


def not_found(request: Request) -> Response:
    page = http.knowledge(request).file("404.html")
    if page is not None:
        return _serve(page, status_code=404)
    return Response("Not found", status_code=404, media_type="text/plain")


async def home(request: Request) -> Response:
    page = http.knowledge(request).file("index.html")
    if page is None:
        return Response(
            "The knowledge base has not been built yet: run `portal build`.",
            status_code=503,
            media_type="text/plain",
        )
    banner = await incidents.home_banner(request)  # open incidents, maintenance ahead
    if banner:
        html = page.read_text("utf-8").replace(incidents.BANNER_MARKER, banner, 1)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
    return _serve(page)


async def site_file(request: Request) -> Response:
    rel = request.path_params["path"]
    kb = http.knowledge(request)
    match = _ALIAS_PATH.match(rel)
    if match:
        target = kb.alias_target(match.group(1))
        if target:
            return RedirectResponse(f"/articles/{target}.html", status_code=301)
        preview = http.preview(request)
        if preview is not None and match.group(1) in preview.problems:
            return _with_problems(request, kb.file(rel), preview.problems[match.group(1)])
    page = kb.file(rel)
    if page is None:
        return not_found(request)
    searched = request.query_params.get("searched", "")[:_MAX_Q]
    if match and searched.strip():  # a hit opened from the search page (portal report)
        db = http.database(request)
        await run_in_threadpool(analytics.record, db, "search_click", analytics.scrub(searched))
    return _serve(page)


def _with_problems(request: Request, page: Any, problems: list[Any]) -> Response:
    """Preview: the article's problems on top of its last good page, or instead of it."""
    banner = bytes(
        render(
            request, "_preview_problems.html", {"problems": problems, "built": page is not None}
        ).body
    ).decode("utf-8")
    if page is None:
        return render(
            request, "preview_problems.html", {"problems": problems, "preview_reload": True}
        )
    html = page.read_text("utf-8")
    marker = '<main id="main"'
    at = html.find(">", html.find(marker)) + 1 if marker in html else 0
    return HTMLResponse(html[:at] + banner + html[at:], headers={"Cache-Control": "no-store"})


def _search(request: Request, limit: int, *, facets: bool = True) -> SearchResult:
    """Runs in a worker thread (``offload.run``): a search is CPU work, bounded by the
    searcher's time budget, and must not hold up the event loop."""
    q = request.query_params.get("q", "")[:_MAX_Q]
    category = request.query_params.get("category") or None
    page = _int(request.query_params.get("page"), 1, 1, 1000)
    return http.knowledge(request).searcher.search(
        q, limit=limit, page=page, category=category, facets=facets
    )


async def _record_failed(request: Request, result: SearchResult, *, settled: bool = False) -> None:
    """Searches that found nothing tell editors what to write next, and settled searches
    whose hits nobody opens what to improve (scrubbed; see ``portal report``)."""
    if len(result.query) < 3:
        return
    kind = "search_no_results" if result.total == 0 else "search" if settled else ""
    if kind:
        db = http.database(request)
        await run_in_threadpool(analytics.record, db, kind, analytics.scrub(result.query))


async def search_page(request: Request) -> Response:
    result = await offload.run(_search, request, 10)
    if not is_htmx(request):  # typing produces partial words; count settled searches
        await _record_failed(request, result, settled=True)
    manifest = http.knowledge(request).manifest()
    titles = {c["slug"]: c["title"] for c in manifest.get("categories", [])}
    context: dict[str, Any] = {
        "result": result,
        "category": request.query_params.get("category", ""),
        "category_titles": titles,
        "closest_categories": [],
        "helpful": [],
    }
    if result.query and result.weak:  # no dead ends: where to look next, or ask us
        context["closest_categories"] = closest_categories(
            result.query, manifest.get("categories", []), result.facets
        )
        by_slug = {a["slug"]: a for a in manifest.get("articles", [])}
        popular = [by_slug[s] for s in manifest.get("popular", []) if s in by_slug]
        context["helpful"] = popular[:5]
    return render(request, "search.html", context, block="results")


HIT: api.Schema = {
    "type": "object",
    "required": ["slug", "title", "url", "summary", "snippet", "category", "score"],
    "properties": {
        "slug": {"type": "string"},
        "title": {"type": "string"},
        "url": {"type": "string"},
        "summary": {"type": "string"},
        "snippet": {"type": "string", "description": "escaped text, <mark> around matches"},
        "category": {"type": "string"},
        "score": {"type": "number"},
    },
}
SEARCH_API = api.Operation(
    "GET",
    parameters=(
        api.Param(
            "q",
            {"type": "string"},
            required=True,
            description=f"the words to look for (longer queries are cut to {_MAX_Q} characters)",
        ),
        api.Param("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}),
        api.Param("category", {"type": "string"}, description="only this category's articles"),
    ),
    responses={
        200: api.Reply(
            "The matching articles, best first",
            {
                "type": "object",
                "required": ["query", "total", "suggestion", "hits"],
                "properties": {
                    "query": {"type": "string"},
                    "total": {"type": "integer"},
                    "suggestion": {"type": ["string", "null"]},
                    "hits": {"type": "array", "items": HIT},
                },
            },
        )
    },
)


async def search_api(request: Request) -> Response:
    """Search the knowledge base."""
    limit = api.query(request, SEARCH_API)["limit"]
    result = await offload.run(_search, request, limit, facets=False)
    await _record_failed(request, result)
    return JSONResponse(result.as_json(url_prefix="/"))
