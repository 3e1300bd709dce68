"""The Jinja filters that write times for people (:mod:`portal.timefmt`), registered in
the pages' environment (portal/templating.py) and the mails' (portal/notify).

``{{ ticket.due_at|when(zone) }}`` gives "Thu 3 Dec, 14:00 (Europe/Berlin)";
``{{ value|detail_time(kind_or_label, zone) }}`` a typed detail ("When did it happen?")
the same way. The year is shown when it is not this year (the context's ``now`` when
a view passes one, else the clock).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2

from kb.policy.details import DETAIL_FIELDS
from portal.timefmt import human_detail, human_time

# a ticket stores its details by label (portal/tickets/filing.py): the kind of each
KIND_BY_LABEL = {f.label: f.kind for f in DETAIL_FIELDS.values()}


def _now(context: Any) -> dt.datetime:
    now = context.get("now") if context is not None else None
    return now if isinstance(now, dt.datetime) else dt.datetime.now(dt.UTC)


@jinja2.pass_context
def when(context: Any, moment: dt.datetime | None, zone: str, year: bool = False) -> str:
    if moment is None:
        return ""
    return human_time(moment, zone, now=_now(context), year=year)


@jinja2.pass_context
def detail_time(context: Any, value: Any, kind_or_label: str, zone: str) -> str:
    kind = KIND_BY_LABEL.get(kind_or_label, kind_or_label)
    return human_detail(kind, str(value), zone, now=_now(context))


FILTERS = {"when": when, "detail_time": detail_time}


def register(env: jinja2.Environment) -> None:
    env.filters.update(FILTERS)
