"""/status (open incidents with their updates, planned maintenance ahead, what was
resolved lately), "Tell me when it's fixed", and the banner of the home page and the
wizard. Every page works without JavaScript; the subscribe form answers the same for
any address (only listed contacts of the account are recorded), so nobody can probe
who is listed."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal import http, ratelimit
from portal.directory import customer_sessions
from portal.forms import plain, read_form
from portal.incidents import store
from portal.incidents.matching import Match
from portal.incidents.times import local_time
from portal.sessions import csrf_token
from portal.templating import is_htmx, render

BANNER_MARKER = "<!-- portal:incident-banner -->"  # in templates/site/home.html
SUBSCRIBED = (
    "Thank you. If {email} is a listed contact of account {account}, we will e-mail it "
    "once, when this is fixed."
)
THROTTLED = (
    "Too many requests were sent from here or for this address recently. "
    "Please wait a while and try again; nothing you typed is lost."
)


async def _who(request: Request) -> dict[str, str]:
    """The signed-in customer's account and address, to fill the subscribe form in."""
    customer = await customer_sessions.current(request)
    if customer is None:
        return {}
    return {"account": customer.account_id, "email": customer.email}


async def status_page(request: Request) -> Response:
    board = await run_in_threadpool(
        functools.partial(store.board, http.database(request), now=http.now())
    )
    context = {
        "board": board,
        "csrf": csrf_token(request),
        "who": await _who(request),
        "local": functools.partial(local_time, http.policy(request)),
    }
    return render(request, "incidents/status.html", context, no_store=True)


async def subscribe(request: Request) -> Response:
    """ "Tell me when it's fixed" (a plain form; htmx swaps the answer in place)."""
    incident_id = int(request.path_params["incident"])
    fields = plain(await read_form(request))
    account = fields.get("account", "").strip()[:40]
    email = fields.get("email", "").strip()[:254]
    view = await run_in_threadpool(store.get, http.database(request), incident_id)
    if view is None:
        raise HTTPException(404, "There is no such incident.")
    errors: dict[str, str] = {}
    if not account:
        errors["account"] = "Enter your account id, e.g. HH-10234."
    if "@" not in email or len(email) < 3:
        errors["email"] = "Enter the e-mail address listed on your account."
    context: dict[str, Any] = {
        "incident": view,
        "csrf": csrf_token(request),
        "who": {"account": account, "email": email},
        "errors": errors,
        "done": "",
        "local": functools.partial(local_time, http.policy(request)),
    }
    status = 422 if errors else 200
    if not errors:
        try:
            await run_in_threadpool(
                functools.partial(
                    store.subscribe,
                    http.database(request),
                    incident_id,
                    account=account,
                    email=email,
                    now=http.now(),
                    limiter=ratelimit.limiter_for(http.settings(request)),
                    client=http.client_address(request),
                )
            )
        except store.Throttled:
            # the same for every address: counted before anything is looked up
            context["limited"] = THROTTLED
            status = 429
        else:
            context["done"] = SUBSCRIBED.format(email=email, account=account)
    if is_htmx(request):
        return render(
            request, "incidents/_subscribe.html", context, status_code=status, no_store=True
        )
    return render(request, "incidents/subscribed.html", context, status_code=status, no_store=True)


async def matches_for(
    request: Request, text: str, *, request_type: str = "", servers: tuple[str, ...] = ()
) -> list[Match]:
    """The open incidents matching what the customer has told the wizard so far."""
    if not text.strip() and not request_type and not servers:
        return []
    facts = store.request_facts(
        http.policy(request), text, servers=servers, request_type=request_type
    )
    return await run_in_threadpool(
        functools.partial(store.find_matching, http.database(request), facts, now=http.now())
    )


async def wizard_context(
    request: Request, text: str, *, request_type: str = "", email: str = "", account: str = ""
) -> dict[str, Any]:
    """What the wizard's steps need to show matching incidents first."""
    found = await matches_for(request, text, request_type=request_type)
    who = {"account": account, "email": email}
    if found and not (account and email):
        who = {**who, **await _who(request)}
    local = functools.partial(local_time, http.policy(request))
    return {"incident_matches": found, "who": who, "local": local}


async def home_banner(request: Request) -> str:
    """The home page's banner of open incidents and planned maintenance ("" when
    there is none)."""
    board = await run_in_threadpool(
        functools.partial(store.board, http.database(request), now=http.now())
    )
    if not board.open and not board.planned:
        return ""
    template = request.app.state.templates.get_template("incidents/_banner.html")
    local = functools.partial(local_time, http.policy(request))
    html: str = template.render({"request": request, "board": board, "local": local})
    return html
