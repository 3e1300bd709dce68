"""Staff pages for known incidents and planned maintenance (``portal.incidents``):
/staff/incidents lists them and posts a new one, /staff/incidents/<id> posts an update
or resolves it. Signed-in staff only (``portal.staff.views.staff_only``), CSRF on every
form, ``no-store``, each action in the staff audit log."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal import http
from portal.db.engine import Database
from portal.db.models import StaffUser
from portal.forms import plain, read_form
from portal.incidents import store
from portal.incidents.matching import KINDS, OPEN_STATUSES, STATUS_LABELS, STATUSES, parse_list
from portal.incidents.times import local_time
from portal.staff import audit
from portal.staff.accounts import actor_of
from portal.staff.views import _client, _page, _path, _redirect, staff_only

DONE = {
    "added": "The incident was posted: it shows on /status, the home page and in the wizard.",
    "updated": "The update was posted.",
    "resolved": "The incident was resolved; everyone who asked to be told is mailed.",
}


def _moment(request: Request, value: str, label: str, errors: dict[str, str]) -> dt.datetime | None:
    """A ``datetime-local`` field, in the provider's time zone."""
    value = value.strip()
    if not value:
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        errors[label] = "Give a date and time, e.g. 2026-12-05T22:00."
        return None
    zone = zoneinfo.ZoneInfo(http.policy(request).provider.timezone)
    return naive.replace(tzinfo=zone) if naive.tzinfo is None else naive


def _audit(db: Database, staff: StaffUser, client: str, action: str, detail: str) -> None:
    with db.session() as session:
        audit.record(
            session, actor_of(staff, client), action, now=dt.datetime.now(dt.UTC), detail=detail
        )


def _context(request: Request, staff: StaffUser, **extra: Any) -> dict[str, Any]:
    return {
        "staff": staff,
        "statuses": STATUSES,
        "open_statuses": OPEN_STATUSES,
        "status_labels": STATUS_LABELS,
        "kinds": KINDS,
        "local": functools.partial(local_time, http.policy(request)),
        "zone": http.policy(request).provider.timezone,
        "errors": {},
        "form": {},
        **extra,
    }


@staff_only
async def incidents_page(request: Request, staff: StaffUser) -> Response:
    """Every incident, newest first, and the form to post one."""
    db = http.database(request)
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if request.method == "POST":
        form = plain(await read_form(request, multiline=lambda name: name == "text"))
        starts = _moment(request, form.get("starts_at", ""), "starts_at", errors)
        ends = _moment(request, form.get("ends_at", ""), "ends_at", errors)
        if not errors:
            try:
                view = await run_in_threadpool(
                    functools.partial(
                        store.add,
                        db,
                        title=form.get("title", ""),
                        kind=form.get("kind", "incident"),
                        status=form.get("status", "investigating"),
                        services=parse_list(form.get("services", "")),
                        servers=parse_list(form.get("servers", "")),
                        starts_at=starts,
                        ends_at=ends,
                        text=form.get("text", ""),
                        author=staff.email,
                        now=http.now(),
                    )
                )
            except store.IncidentError as exc:
                errors["form"] = str(exc)
            else:
                await run_in_threadpool(
                    _audit,
                    db,
                    staff,
                    _client(request),
                    "incident_added",
                    f"{view.id}: {view.title}",
                )
                http.wake_outbox(request)
                return _redirect(
                    _path(request, "staff.incident", incident=str(view.id)) + "?done=added"
                )
    listing = await run_in_threadpool(store.listing, db)
    context = _context(request, staff, incidents=listing, errors=errors, form=form)
    return _page(request, "staff/incidents.html", context, status_code=422 if errors else 200)


@staff_only
async def incident_page(request: Request, staff: StaffUser) -> Response:
    """One incident with its updates; POST: an update (a status of resolved resolves it)."""
    db = http.database(request)
    incident_id = int(request.path_params["incident"])
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if request.method == "POST":
        form = plain(await read_form(request, multiline=lambda name: name == "text"))
        status = form.get("status", "") or None
        try:
            view = await run_in_threadpool(
                functools.partial(
                    store.update,
                    db,
                    incident_id,
                    text=form.get("text", ""),
                    status=status,
                    author=staff.email,
                    now=http.now(),
                )
            )
        except LookupError as exc:
            raise HTTPException(404, str(exc).capitalize() + ".") from exc
        except store.IncidentError as exc:
            errors["form"] = str(exc)
        else:
            done = "resolved" if view.status == "resolved" else "updated"
            await run_in_threadpool(
                _audit, db, staff, _client(request), f"incident_{done}", f"{view.id}: {view.status}"
            )
            http.wake_outbox(request)
            return _redirect(
                _path(request, "staff.incident", incident=str(view.id)) + f"?done={done}"
            )
    shown = await run_in_threadpool(store.get, db, incident_id)
    if shown is None:
        raise HTTPException(404, f"There is no incident {incident_id}.")
    done = DONE.get(request.query_params.get("done", ""), "") if request.method == "GET" else ""
    context = _context(request, staff, incident=shown, errors=errors, form=form, done=done)
    return _page(request, "staff/incident.html", context, status_code=422 if errors else 200)
