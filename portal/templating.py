"""One Jinja environment for the portal's dynamic pages.

Templates live in the top-level ``templates/`` directory, shared with the static
site and found through :mod:`kb.paths` (shipped inside the installed package, else the
repository's). A page renders whole, or for an htmx request just one named block
(jinja2-fragments), so there is one template per page and no duplicated fragments.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from kb.build import tag_file_name
from kb.paths import DEFAULT_TEMPLATES
from portal import timefilters


@jinja2.pass_context
def url(context: Any, name: str, /, **params: Any) -> str:
    """The path of a named route (portal/app.py), e.g. ``url('wizard.choose')``: pages
    never spell out a URL."""
    request: Request = context["request"]
    return str(request.app.url_path_for(name, **params))


@jinja2.pass_context
def article_url(context: Any, slug: str) -> str:
    """The path of an article of the built site."""
    return url(context, "kb.site", path=f"articles/{slug}.html")


def make_templates(site_name: str, *, preview: bool = False) -> Jinja2Blocks:
    from portal.directory.customer_sessions import header_context  # the header's sign-in

    templates = Jinja2Blocks(directory=str(DEFAULT_TEMPLATES), context_processors=[header_context])
    env = templates.env
    env.globals.update(site_name=site_name, static_site=False, root="/", preview=preview)
    env.globals.update(url=url, article_url=article_url)
    env.filters["tagfile"] = tag_file_name
    timefilters.register(env)  # |when(zone), |detail_time(kind, zone)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def is_htmx(request: Request) -> bool:
    """A fragment request from htmx (history restores want the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    no_store: bool = False,
) -> Response:
    """Render ``name``; for an htmx request render only ``block`` when given.

    ``no_store`` is for every page that shows personal data (the wizard's steps, the
    filing page, a ticket's status page, whose URL carries its token): no browser
    or proxy cache keeps a copy (``Cache-Control: no-store``), so the back button on a
    shared computer or a caching proxy does not hand it to the next person."""
    templates: Jinja2Blocks = request.app.state.templates
    kwargs: dict[str, Any] = {}
    if block and is_htmx(request):
        kwargs["block_name"] = block
    response: Response = templates.TemplateResponse(
        request, name, context, status_code=status_code, **kwargs
    )
    response.headers["Vary"] = "HX-Request"
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response
