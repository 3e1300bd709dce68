"""Read and validate a policy file, reporting problems with file and line."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from babel import Locale, UnknownLocaleError

from kb.policy.details import DETAIL_FIELDS
from kb.policy.model import (
    COVERAGE_STATUSES,
    ROUTINGS,
    WEEKDAYS,
    Calendar,
    Channel,
    ContactRole,
    Contacts,
    Emergency,
    Fee,
    Plan,
    Policy,
    Price,
    Priority,
    Provider,
    Rate,
    RequestType,
    Versions,
    Window,
)
from kb.problems import Problem

PathKey = tuple[str | int, ...]
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_ALIASES = {
    "daily": (0, 6),
    "weekdays": (0, 4),
    "weekends": (5, 6),
}
PRICE_KINDS = ("included", "per_year", "per_month", "licence_share", "hourly", "quote", "none")


class PolicyError(Exception):
    pass


def _lines(
    node: yaml.Node, path: PathKey, out: dict[PathKey, int], duplicates: list[tuple[PathKey, int]]
) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            k = str(key.value)
            if k in seen:
                duplicates.append(((*path, k), key.start_mark.line + 1))
            seen.add(k)
            out[(*path, k)] = key.start_mark.line + 1
            _lines(value, (*path, k), out, duplicates)
            out[(*path, k)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out, duplicates)


class _Reader:
    """Typed access to the raw YAML that records a problem instead of raising."""

    def __init__(self, source: str, lines: dict[PathKey, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: PathKey) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: PathKey, message: str) -> None:
        where = ".".join(str(p) for p in path)
        self.problems.append(Problem(self.source, self.line(path), f"{where}: {message}"))

    def get(
        self,
        data: dict[str, Any],
        path: PathKey,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        if key not in data or data[key] is None:
            if required:
                self.problem(path, f"missing required key '{key}'")
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.problem((*path, key), f"must be a {_friendly(names)}")
            return default
        return value

    def text(self, data: dict[str, Any], path: PathKey, key: str, *, required: bool = False) -> str:
        value = self.get(data, path, key, str, "", required=required)
        return " ".join(str(value).split())

    def strings(self, data: dict[str, Any], path: PathKey, key: str) -> tuple[str, ...]:
        value = self.get(data, path, key, list, [])
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            self.problem((*path, key), "must be a list of strings")
            return ()
        return tuple(str(v) for v in value)

    def money(
        self, data: dict[str, Any], path: PathKey, key: str, *, required: bool = False
    ) -> Decimal | None:
        value = self.get(data, path, key, (int, float, str), None, required=required)
        if value is None:
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.problem((*path, key), "must be an amount like 100 or 112.50")
            return None
        if amount < 0:
            self.problem((*path, key), "must not be negative")
        return amount

    def keys(self, data: dict[str, Any], path: PathKey, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.problem(
                    (*path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def mapping(self, data: Any, path: PathKey) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problem(path, "must be a mapping of keys to values")
            return {}
        return data

    def items(self, data: Any, path: PathKey) -> list[tuple[PathKey, dict[str, Any]]]:
        """A list of mappings, each with an 'id', returned with their paths."""
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(path, "must be a list")
            return []
        result = []
        seen: set[str] = set()
        for i, item in enumerate(data):
            item_path = (*path, i)
            if not isinstance(item, dict):
                self.problem(item_path, "must be a mapping of keys to values")
                continue
            ident = item.get("id")
            if not isinstance(ident, str) or not _ID.match(ident):
                self.problem(item_path, "needs an 'id' of lower-case letters, digits, - or _")
                continue
            if ident in seen:
                self.problem(item_path, f"duplicate id '{ident}'")
                continue
            seen.add(ident)
            result.append((item_path, item))
        return result


def _friendly(names: str) -> str:
    return {
        "str": "string",
        "int": "whole number",
        "float": "number",
        "bool": "true or false",
        "list": "list",
        "dict": "mapping",
        "int/float/str": "number",
    }.get(names, names)


def _parse_time(text: str) -> int | None:
    match = _TIME.match(text.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def parse_windows(spec: Any, report: Callable[[str], None]) -> tuple[Window, ...]:
    """'08:00-18:00', '08:00-12:00, 13:00-17:00', '24h' or 'closed'."""
    text = str(spec).strip().lower()
    if text in ("closed", "none", ""):
        return ()
    if text in ("24h", "24 hours", "00:00-24:00", "all day"):
        return (Window(0, 1440),)
    windows: list[Window] = []
    for part in text.split(","):
        start_text, sep, end_text = part.partition("-")
        start, end = _parse_time(start_text), _parse_time(end_text)
        if not sep or start is None or end is None:
            report(f"'{part.strip()}' is not a time range like 08:00-18:00")
            continue
        if end <= start:
            report(f"impossible hours '{part.strip()}': the end must be after the start")
            continue
        windows.append(Window(start, end))
    windows.sort(key=lambda w: w.start)
    for a, b in itertools.pairwise(windows):
        if b.start < a.end:
            report(f"overlapping hours {a.describe()} and {b.describe()}")
    return tuple(windows)


def _day_range(key: str) -> tuple[int, int] | None:
    key = key.strip().lower()
    if key in _DAY_ALIASES:
        return _DAY_ALIASES[key]
    first, _, last = key.partition("-")
    if first in WEEKDAYS and (not last or last in WEEKDAYS):
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        return (a, b) if a <= b else None
    return None


def _calendar(r: _Reader, path: PathKey, cid: str, data: dict[str, Any], tz: str) -> Calendar:
    r.keys(data, path, {"name", "timezone", "hours", "holidays"})
    timezone = r.text(data, path, "timezone") or tz
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.problem((*path, "timezone"), f"unknown time zone '{timezone}'")
        timezone = "UTC"
    weekly: list[tuple[Window, ...] | None] = [None] * 7
    problems_before = len(r.problems)
    hours = data.get("hours")
    if isinstance(hours, str) and hours.strip().lower() in ("24x7", "24/7", "always"):
        weekly = [(Window(0, 1440),)] * 7
    else:
        for key, spec in r.mapping(hours, (*path, "hours")).items():
            span = _day_range(str(key))
            key_path = (*path, "hours", str(key))
            if span is None:
                r.problem(
                    key_path,
                    "day must be mon..sun, a range like mon-fri, daily, weekdays or weekends",
                )
                continue
            windows = parse_windows(spec, functools.partial(r.problem, key_path))
            for day in range(span[0], span[1] + 1):
                if weekly[day] is not None:
                    r.problem(key_path, f"overlapping hours: {WEEKDAYS[day]} is given twice")
                weekly[day] = windows
    if "hours" not in data:
        r.problem(path, "missing required key 'hours'")
    country = subdivision = None
    extra: tuple[str, ...] = ()
    holiday_hours: tuple[Window, ...] = ()
    holidays_data = r.mapping(data.get("holidays"), (*path, "holidays"))
    if holidays_data:
        hpath = (*path, "holidays")
        r.keys(holidays_data, hpath, {"country", "subdivision", "extra", "hours"})
        country = r.text(holidays_data, hpath, "country") or None
        subdivision = r.text(holidays_data, hpath, "subdivision") or None
        if country:
            import holidays as holidays_lib

            supported = holidays_lib.list_supported_countries()
            if country not in supported:
                r.problem((*hpath, "country"), f"unknown country code '{country}'")
                country = None
            elif subdivision and subdivision not in supported[country]:
                r.problem((*hpath, "subdivision"), f"unknown subdivision '{subdivision}'")
                subdivision = None
        extra = r.strings(holidays_data, hpath, "extra")
        valid_extra = []
        for value in extra:
            try:
                if re.fullmatch(r"\d{2}-\d{2}", value):
                    dt.date.fromisoformat(f"2000-{value}")  # a leap year: 02-29 is fine
                elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    dt.date.fromisoformat(value)
                else:
                    raise ValueError(value)
                valid_extra.append(value)
            except ValueError:
                r.problem((*hpath, "extra"), f"'{value}' must be a real date, MM-DD or YYYY-MM-DD")
        extra = tuple(valid_extra)
        if "hours" in holidays_data:
            holiday_hours = parse_windows(
                holidays_data["hours"], lambda m: r.problem((*hpath, "hours"), m)
            )
    if "hours" in data and not any(w for w in weekly) and len(r.problems) == problems_before:
        r.problem((*path, "hours"), "impossible hours: the calendar is never open")
    return Calendar(
        id=cid,
        name=r.text(data, path, "name") or cid.replace("-", " ").capitalize(),
        timezone=timezone,
        weekly=tuple(w or () for w in weekly),
        holiday_country=country,
        holiday_subdivision=subdivision,
        extra_closed=extra,
        holiday_hours=holiday_hours,
    )


def _hours_value(r: _Reader, path: PathKey, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "-")):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        r.problem(path, "must be a number of hours or null")
        return None
    if value < 0:
        r.problem(path, "must not be negative")
        return None
    return float(value)


def parse_policy(text: str, source: str = "policy.yaml") -> tuple[Policy | None, list[Problem]]:
    """Parse policy YAML text. Returns (policy or None, problems)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(source, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    lines: dict[PathKey, int] = {}
    duplicates: list[tuple[PathKey, int]] = []
    if node is not None:
        _lines(node, (), lines, duplicates)
    r = _Reader(source, lines)
    for dup_path, dup_line in duplicates:
        where = ".".join(str(p) for p in dup_path)
        r.problems.append(
            Problem(source, dup_line, f"{where}: key given twice (the last one would win)")
        )
    data = r.mapping(raw, ())
    if not data:
        return None, [Problem(source, 1, "the policy file is empty or not a mapping")]
    top = {
        "provider",
        "calendars",
        "priorities",
        "plans",
        "rates",
        "fees",
        "waivers",
        "versions",
        "contacts",
        "emergency",
        "priority_persists",
        "request_type_categories",
        "request_types",
    }
    r.keys(data, (), top)

    # provider
    p = r.mapping(data.get("provider"), ("provider",))
    r.keys(
        p,
        ("provider",),
        {
            "name",
            "timezone",
            "currency",
            "locale",
            "channels",
            "support_email",
            "supervisor_email",
            "website",
        },
    )
    tz = r.text(p, ("provider",), "timezone", required=True) or "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.problem(("provider", "timezone"), f"unknown time zone '{tz}'")
        tz = "UTC"
    currency = r.text(p, ("provider",), "currency", required=True) or "EUR"
    for path, item in r.items(p.get("channels"), ("provider", "channels")):
        r.keys(item, path, {"id", "name", "description", "address"})
    channels = tuple(
        Channel(
            id=item["id"],
            name=r.text(item, path, "name", required=True),
            description=r.text(item, path, "description"),
            address=r.text(item, path, "address"),
        )
        for path, item in r.items(p.get("channels"), ("provider", "channels"))
    )
    locale = r.text(p, ("provider",), "locale") or "en_US"
    try:
        Locale.parse(locale)
    except (ValueError, TypeError, LookupError, UnknownLocaleError):
        r.problem(("provider", "locale"), f"unknown locale '{locale}' (e.g. en_US, en_IE, de_DE)")
        locale = "en_US"
    provider = Provider(
        name=r.text(p, ("provider",), "name", required=True),
        timezone=tz,
        currency=currency,
        locale=locale,
        channels=channels,
        support_email=r.text(p, ("provider",), "support_email"),
        supervisor_email=r.text(p, ("provider",), "supervisor_email"),
        website=r.text(p, ("provider",), "website"),
    )
    channel_ids = {c.id for c in channels}

    # calendars
    calendars: dict[str, Calendar] = {}
    for cid, cdata in r.mapping(data.get("calendars"), ("calendars",)).items():
        cpath: PathKey = ("calendars", str(cid))
        if not _ID.match(str(cid)):
            r.problem(cpath, "calendar ids use lower-case letters, digits, - or _")
            continue
        calendars[str(cid)] = _calendar(r, cpath, str(cid), r.mapping(cdata, cpath), tz)
    if not calendars:
        r.problem(("calendars",), "define at least one calendar of support hours")

    # priorities
    for path, item in r.items(data.get("priorities"), ("priorities",)):
        r.keys(item, path, {"id", "name", "definition"})
    priorities = {
        item["id"]: Priority(
            item["id"],
            r.text(item, path, "name", required=True),
            r.text(item, path, "definition", required=True),
        )
        for path, item in r.items(data.get("priorities"), ("priorities",))
    }
    if not priorities:
        r.problem(("priorities",), "define at least one priority")

    # plans
    plans: dict[str, Plan] = {}
    for path, item in r.items(data.get("plans"), ("plans",)):
        r.keys(
            item,
            path,
            {
                "id",
                "name",
                "description",
                "price",
                "calendar",
                "emergency_calendar",
                "reaction",
                "reaction_text",
                "channels",
            },
        )
        calendar = r.text(item, path, "calendar", required=True)
        if calendar and calendar not in calendars:
            r.problem((*path, "calendar"), f"unknown calendar '{calendar}'")
        emergency_calendar = r.text(item, path, "emergency_calendar") or None
        if emergency_calendar and emergency_calendar not in calendars:
            r.problem((*path, "emergency_calendar"), f"unknown calendar '{emergency_calendar}'")
        reaction: dict[str, float | None] = {}
        for prio, value in r.mapping(item.get("reaction"), (*path, "reaction")).items():
            if prio not in priorities:
                r.problem((*path, "reaction", str(prio)), f"unknown priority '{prio}'")
                continue
            reaction[str(prio)] = _hours_value(r, (*path, "reaction", str(prio)), value)
        reaction_text = {
            str(k): str(v)
            for k, v in r.mapping(item.get("reaction_text"), (*path, "reaction_text")).items()
        }
        for prio in reaction_text:
            if prio not in priorities:
                r.problem((*path, "reaction_text", prio), f"unknown priority '{prio}'")
        plan_channels = r.strings(item, path, "channels")
        for ch in plan_channels:
            if ch not in channel_ids:
                r.problem((*path, "channels"), f"unknown channel '{ch}'")
        price_data = r.mapping(item.get("price"), (*path, "price"))
        ppath = (*path, "price")
        r.keys(
            price_data,
            ppath,
            {
                "kind",
                "text",
                "amount",
                "currency",
                "included_servers",
                "per_extra_server",
                "minimum_months",
                "licence_share_percent",
                "first_year_free",
            },
        )
        kind = r.text(price_data, ppath, "kind", required=True) or "none"
        if kind not in PRICE_KINDS:
            r.problem(
                (*ppath, "kind"), f"unknown price kind '{kind}' (one of {', '.join(PRICE_KINDS)})"
            )
        price = Price(
            kind=kind,
            text=r.text(price_data, ppath, "text", required=True),
            amount=r.money(
                price_data, ppath, "amount", required=kind in ("per_year", "per_month", "hourly")
            ),
            currency=r.text(price_data, ppath, "currency") or currency,
            included_servers=r.get(price_data, ppath, "included_servers", int),
            per_extra_server=r.money(price_data, ppath, "per_extra_server"),
            minimum_months=r.get(price_data, ppath, "minimum_months", int),
            licence_share_percent=r.money(
                price_data, ppath, "licence_share_percent", required=kind == "licence_share"
            ),
            first_year_free=bool(r.get(price_data, ppath, "first_year_free", bool, False)),
        )
        plans[item["id"]] = Plan(
            id=item["id"],
            name=r.text(item, path, "name", required=True),
            description=r.text(item, path, "description"),
            price=price,
            calendar=calendar,
            reaction=reaction,
            channels=plan_channels,
            emergency_calendar=emergency_calendar,
            reaction_text=reaction_text,
        )
    if not plans:
        r.problem(("plans",), "define at least one plan")

    # waivers, rates, fees
    waivers = {
        str(k): " ".join(str(v).split())
        for k, v in r.mapping(data.get("waivers"), ("waivers",)).items()
    }
    rates: dict[str, Rate] = {}
    for path, item in r.items(data.get("rates"), ("rates",)):
        r.keys(
            item,
            path,
            {
                "id",
                "name",
                "amount",
                "currency",
                "unit_minutes",
                "minimum_minutes",
                "in_advance",
                "waived_when",
            },
        )
        unit = r.get(item, path, "unit_minutes", int, 60)
        minimum = r.get(item, path, "minimum_minutes", int, 0)
        if unit <= 0:
            r.problem((*path, "unit_minutes"), "must be a positive number of minutes")
            unit = 60
        waived = r.strings(item, path, "waived_when")
        for w in waived:
            if w not in waivers:
                r.problem(
                    (*path, "waived_when"),
                    f"unknown waiver condition '{w}' (define it under waivers)",
                )
        rates[item["id"]] = Rate(
            id=item["id"],
            name=r.text(item, path, "name") or item["id"],
            amount=r.money(item, path, "amount", required=True) or Decimal(0),
            currency=r.text(item, path, "currency") or currency,
            unit_minutes=unit,
            minimum_minutes=max(0, minimum),
            in_advance=bool(r.get(item, path, "in_advance", bool, False)),
            waived_when=waived,
        )
    fees: dict[str, Fee] = {}
    for path, item in r.items(data.get("fees"), ("fees",)):
        r.keys(item, path, {"id", "name", "amount", "currency", "description"})
        fees[item["id"]] = Fee(
            id=item["id"],
            name=r.text(item, path, "name", required=True),
            amount=r.money(item, path, "amount", required=True) or Decimal(0),
            currency=r.text(item, path, "currency") or currency,
            description=r.text(item, path, "description"),
        )

    # versions
    versions = None
    v = r.mapping(data.get("versions"), ("versions",))
    if v:
        r.keys(
            v,
            ("versions",),
            {"product", "minimum", "releases", "free_bugfix_latest", "upgrade_advice"},
        )
        raw_versions = [v.get("minimum"), *(v.get("releases") or [])]
        for value in (x for x in raw_versions if isinstance(x, float)):
            r.problem(
                ("versions",),
                f'quote version numbers: {value} is read as a number (write "5.10", not 5.10)',
            )
        versions = Versions(
            product=r.text(v, ("versions",), "product", required=True),
            minimum=str(v["minimum"]) if v.get("minimum") is not None else None,
            releases=r.strings(v, ("versions",), "releases"),
            free_bugfix_latest=r.get(v, ("versions",), "free_bugfix_latest", int, 0),
            upgrade_advice=r.text(v, ("versions",), "upgrade_advice"),
        )
        from kb.policy.engine import parse_version

        for rel in (*versions.releases, *([versions.minimum] if versions.minimum else [])):
            if parse_version(rel) is None:
                r.problem(("versions",), f"'{rel}' is not a version like 5.2 or 2.4.1")
        if versions.free_bugfix_latest > len(versions.releases):
            r.problem(
                ("versions", "free_bugfix_latest"), "is larger than the number of releases listed"
            )

    # contacts
    c = r.mapping(data.get("contacts"), ("contacts",))
    r.keys(c, ("contacts",), {"max_total", "roles", "restricted_roles", "unlisted"})
    for path, item in r.items(c.get("roles"), ("contacts", "roles")):
        r.keys(item, path, {"id", "name", "max", "description"})
    roles = tuple(
        ContactRole(
            id=item["id"],
            name=r.text(item, path, "name", required=True),
            max=r.get(item, path, "max", int),
            description=r.text(item, path, "description"),
        )
        for path, item in r.items(c.get("roles"), ("contacts", "roles"))
    )
    role_ids = {role.id for role in roles}
    restricted_roles = r.strings(c, ("contacts",), "restricted_roles")
    for role in restricted_roles:
        if role not in role_ids:
            r.problem(("contacts", "restricted_roles"), f"unknown contact role '{role}'")
    max_total = r.get(c, ("contacts",), "max_total", int)
    contacts = Contacts(roles, max_total, restricted_roles, r.text(c, ("contacts",), "unlisted"))

    # request-type categories and request types
    for path, item in r.items(data.get("request_type_categories"), ("request_type_categories",)):
        r.keys(item, path, {"id", "title"})
    categories = {
        item["id"]: r.text(item, path, "title", required=True)
        for path, item in r.items(data.get("request_type_categories"), ("request_type_categories",))
    }
    request_types: dict[str, RequestType] = {}
    rt_allowed = {
        "id",
        "title",
        "description",
        "category",
        "keywords",
        "coverage",
        "rate",
        "fee",
        "effort_hours",
        "details",
        "priorities",
        "default_priority",
        "emergency",
        "roles",
        "restricted",
        "routing",
        "articles",
        "alternative",
        "note",
        "bugfix",
        "any_version",
    }
    for path, item in r.items(data.get("request_types"), ("request_types",)):
        r.keys(item, path, rt_allowed)
        category = r.text(item, path, "category", required=True)
        if category and categories and category not in categories:
            r.problem((*path, "category"), f"unknown request type category '{category}'")
        coverage: dict[str, str] = {}
        default_coverage = None
        cov_path = (*path, "coverage")
        for plan_id, status in r.mapping(item.get("coverage"), cov_path).items():
            if status not in COVERAGE_STATUSES:
                r.problem(
                    (*cov_path, str(plan_id)),
                    f"unknown coverage '{status}' (one of {', '.join(COVERAGE_STATUSES)})",
                )
                continue
            if plan_id == "default":
                default_coverage = status
            elif plan_id not in plans:
                r.problem((*cov_path, str(plan_id)), f"unknown plan '{plan_id}'")
            else:
                coverage[str(plan_id)] = status
        if not coverage and default_coverage is None:
            r.problem(path, "missing coverage: give a status per plan or a default")
        missing_plans = (
            [pid for pid in plans if pid not in coverage] if default_coverage is None else []
        )
        if coverage and missing_plans:
            r.problem(
                cov_path, f"no coverage for plan(s) {', '.join(missing_plans)} and no default"
            )
        rate = r.text(item, path, "rate") or None
        fee = r.text(item, path, "fee") or None
        if rate and rate not in rates:
            r.problem((*path, "rate"), f"unknown rate '{rate}'")
        if fee and fee not in fees:
            r.problem((*path, "fee"), f"unknown fee '{fee}'")
        statuses = set(coverage.values()) | ({default_coverage} if default_coverage else set())
        if "paid" in statuses and not (rate or fee):
            r.problem(path, "paid coverage needs a 'rate' or a 'fee'")
        effort = None
        if item.get("effort_hours") is not None:
            raw_effort = item["effort_hours"]
            if (
                isinstance(raw_effort, list)
                and len(raw_effort) == 2
                and all(
                    isinstance(x, int | float) and not isinstance(x, bool) and x > 0
                    for x in raw_effort
                )
                and raw_effort[0] <= raw_effort[1]
            ):
                effort = (float(raw_effort[0]), float(raw_effort[1]))
            else:
                r.problem((*path, "effort_hours"), "must be [low, high] hours, e.g. [0.5, 2]")
        details = r.strings(item, path, "details")
        for d in details:
            if d not in DETAIL_FIELDS:
                r.problem(
                    (*path, "details"), f"unknown detail '{d}' (one of {', '.join(DETAIL_FIELDS)})"
                )
        allowed_priorities = r.strings(item, path, "priorities") or tuple(priorities)
        for prio in allowed_priorities:
            if prio not in priorities:
                r.problem((*path, "priorities"), f"unknown priority '{prio}'")
        default_priority = r.text(item, path, "default_priority") or (
            allowed_priorities[-1] if allowed_priorities else None
        )
        if default_priority and default_priority not in allowed_priorities:
            r.problem(
                (*path, "default_priority"),
                f"'{default_priority}' is not one of this type's priorities",
            )
        restricted = bool(r.get(item, path, "restricted", bool, False))
        rt_roles = r.strings(item, path, "roles") or (restricted_roles if restricted else ())
        for role in rt_roles:
            if role not in role_ids:
                r.problem((*path, "roles"), f"unknown contact role '{role}'")
        routing = r.text(item, path, "routing") or "own"
        if routing not in ROUTINGS:
            r.problem((*path, "routing"), f"routing must be one of {', '.join(ROUTINGS)}")
        request_types[item["id"]] = RequestType(
            id=item["id"],
            title=r.text(item, path, "title", required=True),
            description=r.text(item, path, "description", required=True),
            category=category,
            coverage=coverage,
            default_coverage=default_coverage,
            keywords=r.strings(item, path, "keywords"),
            rate=rate,
            fee=fee,
            effort_hours=effort,
            details=details,
            priorities=allowed_priorities,
            default_priority=default_priority,
            emergency=bool(r.get(item, path, "emergency", bool, False)),
            roles=rt_roles,
            routing=routing,
            articles=r.strings(item, path, "articles"),
            alternative=r.text(item, path, "alternative") or None,
            note=r.text(item, path, "note"),
            restricted_action=restricted,
            bugfix=bool(r.get(item, path, "bugfix", bool, False)),
            any_version=bool(r.get(item, path, "any_version", bool, False)),
        )

    # emergency rules
    emergency = None
    e = r.mapping(data.get("emergency"), ("emergency",))
    if e:
        r.keys(
            e,
            ("emergency",),
            {
                "definition",
                "request_types",
                "highest",
                "priority",
                "plans",
                "abuse",
                "instructions",
            },
        )
        abuse = r.mapping(e.get("abuse"), ("emergency", "abuse"))
        r.keys(abuse, ("emergency", "abuse"), {"max_rejected", "window_days", "ignore_days"})
        emergency = Emergency(
            definition=r.text(e, ("emergency",), "definition", required=True),
            request_types=r.strings(e, ("emergency",), "request_types"),
            highest=r.strings(e, ("emergency",), "highest"),
            priority=r.text(e, ("emergency",), "priority") or None,
            plans=r.strings(e, ("emergency",), "plans"),
            max_rejected=r.get(abuse, ("emergency", "abuse"), "max_rejected", int, 0),
            window_days=r.get(abuse, ("emergency", "abuse"), "window_days", int, 0),
            ignore_days=r.get(abuse, ("emergency", "abuse"), "ignore_days", int, 0),
            instructions=r.text(e, ("emergency",), "instructions"),
        )
        for key in ("request_types", "highest"):
            for rt in getattr(emergency, key):
                if rt not in request_types:
                    r.problem(("emergency", key), f"unknown request type '{rt}'")
        for rt in emergency.highest:
            if rt not in emergency.request_types:
                r.problem(("emergency", "highest"), f"'{rt}' must also be listed in request_types")
        if emergency.priority and emergency.priority not in priorities:
            r.problem(("emergency", "priority"), f"unknown priority '{emergency.priority}'")
        for plan_id in emergency.plans:
            if plan_id not in plans:
                r.problem(("emergency", "plans"), f"unknown plan '{plan_id}'")
        for rt_id in emergency.request_types:
            rt_obj = request_types.get(rt_id)
            if rt_obj is not None and not rt_obj.emergency:
                r.problem(
                    ("emergency", "request_types"),
                    f"request type '{rt_id}' is listed but does not set 'emergency: true'",
                )
    for rt_obj in request_types.values():
        if rt_obj.emergency and (emergency is None or rt_obj.id not in emergency.request_types):
            r.problem(
                ("request_types",),
                f"request type '{rt_obj.id}' sets 'emergency: true' "
                "but is not in emergency.request_types",
            )

    persists = data.get("priority_persists", False)
    if not isinstance(persists, bool):
        r.problem(("priority_persists",), "must be true or false")
        persists = False

    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    policy = Policy(
        provider=provider,
        calendars=calendars,
        plans=plans,
        priorities=priorities,
        rates=rates,
        fees=fees,
        request_types=request_types,
        categories=categories,
        versions=versions,
        contacts=contacts,
        emergency=emergency,
        waivers=waivers,
        priority_persists=persists,
        source=source,
        digest=digest,
    )
    return policy, r.problems


def load_policy(path: Path, source: str | None = None) -> tuple[Policy | None, list[Problem]]:
    """Read a policy file. ``source`` is the name used in problems (default: the path)."""
    name = source or str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        return None, [Problem(name, 1, f"cannot read the policy file: {exc.strerror}")]
    return parse_policy(text, name)


def check_article_references(policy: Policy, slugs: set[str], source: str) -> list[Problem]:
    """Request types that name articles which do not exist."""
    problems = []
    for rt in policy.request_types.values():
        for slug in (*rt.articles, *([rt.alternative] if rt.alternative else [])):
            if slug not in slugs:
                problems.append(
                    Problem(source, 1, f"request_types.{rt.id}: unknown article '{slug}'")
                )
    return problems
