"""The building blocks of the policy schema: sections, keys and the kinds of value.

Like MkDocs' ``config_options``: every kind of value reads and validates itself and
says how it is written in the reference. :mod:`kb.policy.schema` declares the policy
file's sections with these; :mod:`kb.policy.load` feeds them the YAML. A value that is
wrong is reported once, on its own line, with a message that says what to write, and
the key's default (or a safe recovery value) is used in its place, so one mistake never
hides the next.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError

from kb.policy.model import WEEKDAYS, DetailGroup, Window
from kb.problems import Problem

PathKey = tuple[str | int, ...]
ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_ALIASES = {"daily": (0, 6), "weekdays": (0, 4), "weekends": (5, 6)}
_ALWAYS = ("24x7", "24/7", "always")
_UNPUBLISHED = ("not published", "unpublished")
UNPUBLISHED = "not published"  # what WeeklyHours gives for ``hours: not published``


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a value that is absent, or so wrong that the default is used


class Values(dict[str, Any]):
    """One section's values as read, with the path the section was read from."""

    def __init__(self, path: PathKey) -> None:
        super().__init__()
        self.path = path


class Reader:
    """Records problems as ``file:line: where: message``; knows the ids read so far.

    ``ids`` holds, per target name (``plans``, ``priorities``, …), the ids defined so
    far, in file order, so that :class:`Ref` values are checked in one place.
    ``context`` holds the values of sections read so far by dotted key
    (``provider.currency``), for defaults taken from elsewhere in the file.
    """

    def __init__(self, source: str, lines: dict[PathKey, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []
        self.ids: dict[str, tuple[str, ...]] = {}
        self.context: dict[str, Any] = {}

    def line(self, path: PathKey) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: PathKey, message: str) -> None:
        where = ".".join(str(p) for p in path)
        self.problems.append(Problem(self.source, self.line(path), f"{where}: {message}"))

    def mapping(self, data: Any, path: PathKey) -> dict[Any, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problem(path, "must be a mapping of keys to values")
            return {}
        return data


# --- kinds of value ------------------------------------------------------------------


class Value:
    """A kind of value. ``read`` gets the raw YAML value (never None) and returns the
    model value, or MISSING after reporting a problem; ``absent`` is what a key that is
    left out (or null) gives, MISSING meaning "the key's default"."""

    doc = "value"
    default: Any = None  # what a key of this kind holds when it is left out

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        return raw

    def absent(self, r: Reader, path: PathKey) -> Any:
        return MISSING

    def empty(self, value: Any) -> bool:
        """True for values that count as not given (an empty text or list)."""
        return False


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


class Text(Value):
    """A string; line breaks and repeated spaces are joined into single spaces."""

    default: Any = ""

    def __init__(self, doc: str = "text") -> None:
        self.doc = doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, str):
            r.problem(path, "must be a string")
            return MISSING
        return " ".join(raw.split())

    def empty(self, value: Any) -> bool:
        return bool(value == "")


class RawText(Value):
    """Any scalar, kept as written."""

    doc = "text"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        return str(raw)


class Bool(Value):
    doc = "`true`/`false`"
    default = False

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, bool):
            r.problem(path, "must be true or false")
            return MISSING
        return raw


class Int(Value):
    def __init__(
        self,
        minimum: int | None = None,
        below: str = "must not be negative",
        doc: str = "whole number",
    ) -> None:
        self.minimum, self.below, self.doc = minimum, below, doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, int) or isinstance(raw, bool):
            r.problem(path, "must be a whole number")
            return MISSING
        if self.minimum is not None and raw < self.minimum:
            r.problem(path, self.below)
            return MISSING
        return raw


class Money(Value):
    """An amount like 100 or 112.50, read as a Decimal."""

    ZERO = Decimal(0)

    def __init__(self, doc: str = "amount") -> None:
        self.doc = doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not _scalar(raw):
            r.problem(path, "must be a number")
            return MISSING
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            r.problem(path, "must be an amount like 100 or 112.50")
            return MISSING
        if amount < 0:
            r.problem(path, "must not be negative")
        return amount


class Strings(Value):
    """A list of strings (numbers are taken as their text)."""

    default: Any = ()

    def __init__(self, doc: str = "list of texts") -> None:
        self.doc = doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, list):
            r.problem(path, "must be a list")
            return MISSING
        if not all(_scalar(v) for v in raw):
            r.problem(path, "must be a list of strings")
            return MISSING
        return tuple(str(v) for v in raw)

    def empty(self, value: Any) -> bool:
        return bool(value == ())


@dataclass(frozen=True)
class Target:
    """What a reference points at: the ids of a section (filled in as it is read) or a
    fixed list of choices. An unknown value is reported as ``unknown NOUN 'value'``,
    followed by the choices or by ``advice``."""

    name: str  # key in Reader.ids
    noun: str  # "plan", "priority", "detail"
    choices: tuple[str, ...] | None = None  # fixed choices instead of a section's ids
    when_defined: bool = False  # only checked when the section defines any ids
    advice: str = ""  # e.g. "define it under waivers"

    def known(self, r: Reader) -> tuple[str, ...]:
        return self.choices if self.choices is not None else r.ids[self.name]

    def check(self, r: Reader, path: PathKey, value: Any) -> bool:
        known = self.known(r)
        if value in known or (self.when_defined and not known):
            return True
        hint = f"one of {', '.join(known)}" if self.choices is not None else self.advice
        r.problem(path, f"unknown {self.noun} '{value}'" + (f" ({hint})" if hint else ""))
        return False


class Ref(Text):
    """The id of something defined elsewhere in the file, or one of fixed choices.
    ``also``: words accepted besides the ids (``none``)."""

    default = None

    def __init__(self, target: Target, doc: str | None = None, also: tuple[str, ...] = ()) -> None:
        super().__init__(doc or _ref_doc(target))
        self.target, self.also = target, also

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        value = super().read(r, path, raw)
        if value is not MISSING and value and value not in self.also:
            self.target.check(r, path, value)
        return value


def _ref_doc(target: Target) -> str:
    if target.choices is not None:
        return "one of " + ", ".join(f"`{c}`" for c in target.choices)
    return f"{target.noun} id"


class RefList(Strings):
    """A list of ids of things defined elsewhere (each unknown one is reported)."""

    def __init__(self, target: Target, doc: str | None = None) -> None:
        super().__init__(doc or f"list of {target.noun} ids")
        self.target = target

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        values = super().read(r, path, raw)
        for value in () if values is MISSING else values:
            self.target.check(r, path, value)
        return values


class TimeZone(Text):
    def __init__(self) -> None:
        super().__init__("time-zone name")

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        value = super().read(r, path, raw)
        if value is MISSING or not value:
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            r.problem(path, f"unknown time zone '{value}'")
            return "UTC"
        return value


class LocaleCode(Text):
    def __init__(self) -> None:
        super().__init__("locale code")

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        value = super().read(r, path, raw)
        if value is MISSING or not value:
            return value
        try:
            Locale.parse(value)
        except (ValueError, TypeError, LookupError, UnknownLocaleError):
            r.problem(path, f"unknown locale '{value}' (e.g. en_US, en_IE, de_DE)")
            return MISSING
        return value


class Country(Text):
    """A country code known to the ``holidays`` package."""

    def __init__(self) -> None:
        super().__init__("country code")

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        value = super().read(r, path, raw)
        if value is MISSING or not value:
            return value
        import holidays as holidays_lib

        if value not in holidays_lib.list_supported_countries():
            r.problem(path, f"unknown country code '{value}'")
            return MISSING
        return value


class Dates(Strings):
    """Dates that recur every year (``MM-DD``) or happen once (``YYYY-MM-DD``)."""

    def __init__(self) -> None:
        super().__init__("list of dates")

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        values = super().read(r, path, raw)
        if values is MISSING:
            return values
        valid = []
        for value in values:
            try:
                if re.fullmatch(r"\d{2}-\d{2}", value):
                    dt.date.fromisoformat(f"2000-{value}")  # a leap year: 02-29 is fine
                elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    dt.date.fromisoformat(value)
                else:
                    raise ValueError(value)
                valid.append(value)
            except ValueError:
                r.problem(path, f"'{value}' must be a real date, MM-DD or YYYY-MM-DD")
        return tuple(valid)


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


class Windows(Value):
    """The open hours of one day: ``"08:00-18:00"``, ``"08:00-12:00, 13:00-17:00"``,
    ``"24h"`` or ``"closed"``."""

    doc = "hours of a day"
    default: Any = ()

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        return parse_windows(raw, lambda message: r.problem(path, message))


def _day_range(key: str) -> tuple[int, int] | None:
    key = key.strip().lower()
    if key in _DAY_ALIASES:
        return _DAY_ALIASES[key]
    first, _, last = key.partition("-")
    if first in WEEKDAYS and (not last or last in WEEKDAYS):
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        return (a, b) if a <= b else None
    return None


class WeeklyHours(Value):
    """``24x7``, ``not published``, or a mapping of days (``mon``, ``mon-fri``,
    ``weekdays``…) to hours."""

    doc = "`24x7`, `not published`, or a mapping of days to hours"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if isinstance(raw, str) and raw.strip().lower() in _ALWAYS:
            return ((Window(0, 1440),),) * 7
        if isinstance(raw, str) and raw.strip().lower() in _UNPUBLISHED:
            return UNPUBLISHED
        weekly: list[tuple[Window, ...] | None] = [None] * 7
        problems_before = len(r.problems)
        for key, spec in r.mapping(raw, path).items():
            span = _day_range(str(key))
            key_path = (*path, str(key))
            if span is None:
                r.problem(
                    key_path,
                    "day must be mon..sun, a range like mon-fri, daily, weekdays or weekends",
                )
                continue
            windows = Windows().read(r, key_path, spec)
            for day in range(span[0], span[1] + 1):
                if weekly[day] is not None:
                    r.problem(key_path, f"overlapping hours: {WEEKDAYS[day]} is given twice")
                weekly[day] = windows
        if not any(weekly) and len(r.problems) == problems_before:
            r.problem(path, "impossible hours: the calendar is never open")
        return tuple(w or () for w in weekly)


class Hours(Value):
    """A number of hours (fractions allowed), or null for "no target"."""

    doc = "hours"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if isinstance(raw, str) and raw.strip().lower() in ("none", "-"):
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            r.problem(path, "must be a number of hours or null")
            return None
        if raw < 0:
            r.problem(path, "must not be negative")
            return None
        return float(raw)

    def absent(self, r: Reader, path: PathKey) -> Any:
        return None


class HoursRange(Value):
    doc = "`[low, high]`"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in raw)
            and raw[0] <= raw[1]
        ):
            return (float(raw[0]), float(raw[1]))
        r.problem(path, "must be [low, high] hours, e.g. [0.5, 2]")
        return MISSING


class DetailGroups(Value):
    """``[{options: [[error_message], [description, occurred_at]], text: …}]``: one
    complete option of each group suffices."""

    doc = "list of `{options, text}`"
    default: Any = ()

    def __init__(self, target: Target) -> None:
        self.target = target

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, list):
            r.problem(path, "must be a list of groups, each with options: [[id, …], [id, …]]")
            return MISSING
        groups = []
        for i, item in enumerate(raw):
            item_path = (*path, i)
            data = r.mapping(item, item_path)
            for key in data:
                if key not in ("options", "text"):
                    r.problem((*item_path, str(key)), "unknown key (allowed: options, text)")
            options = data.get("options")
            if (
                not isinstance(options, list)
                or len(options) < 2
                or not all(
                    isinstance(o, list) and o and all(_scalar(d) for d in o) for o in options
                )
            ):
                r.problem(
                    item_path,
                    "options must list at least two options, each a list of detail ids, e.g. "
                    "[[error_message], [description, occurred_at]]",
                )
                continue
            for option in options:
                for detail in option:
                    self.target.check(r, (*item_path, "options"), str(detail))
            text = data.get("text")
            if text is not None and not isinstance(text, str):
                r.problem((*item_path, "text"), "must be a string")
                text = None
            groups.append(
                DetailGroup(
                    tuple(tuple(str(d) for d in o) for o in options),
                    " ".join((text or "").split()),
                )
            )
        return tuple(groups)

    def empty(self, value: Any) -> bool:
        return bool(value == ())


def _version_number(r: Reader, path: PathKey, raw: Any) -> str:
    from kb.policy.engine import parse_version

    if isinstance(raw, float):
        r.problem(
            path, f'quote version numbers: {raw} is read as a number (write "5.10", not 5.10)'
        )
    text = str(raw)
    if parse_version(text) is None:
        r.problem(path, f"'{text}' is not a version like 5.2 or 2.4.1")
    return text


class Version(Value):
    doc = "version, quoted"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        return _version_number(r, path, raw)


class VersionList(Strings):
    def __init__(self) -> None:
        super().__init__("list of versions, quoted")

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        values = super().read(r, path, raw)
        if values is MISSING:
            return values
        return tuple(_version_number(r, path, v) for v in raw)


class KeyedBy(Value):
    """A mapping from ids of something else (priorities, plans) to values; an entry
    with an unknown id is reported and left out."""

    def __init__(self, target: Target, value: Value, doc: str) -> None:
        self.target, self.value, self.doc = target, value, doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        result: dict[str, Any] = {}
        for key, item in r.mapping(raw, path).items():
            if not self.target.check(r, (*path, str(key)), key):
                continue
            key_path = (*path, str(key))
            if item is None:
                value = self.value.absent(r, key_path)
            else:
                value = self.value.read(r, key_path, item)
            if value is not MISSING:
                result[str(key)] = value
        return result

    def absent(self, r: Reader, path: PathKey) -> Any:
        return {}


class Coverage(Value):
    """Plan id (or ``default``) → status; reads as (per plan, default)."""

    def __init__(self, plans: Target, statuses: Target) -> None:
        self.plans, self.statuses = plans, statuses
        self.doc = "mapping"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        per_plan: dict[str, str] = {}
        default = None
        for plan_id, status in r.mapping(raw, path).items():
            key_path = (*path, str(plan_id))
            if not self.statuses.check(r, key_path, status):
                continue
            if plan_id == "default":
                default = status
            elif self.plans.check(r, key_path, plan_id):
                per_plan[str(plan_id)] = status
        return per_plan, default


class Conditions(Value):
    """Condition id → sentence; the ids become a target others refer to."""

    def __init__(self, target: str, doc: str) -> None:
        self.target, self.doc = target, doc

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        result = {str(k): " ".join(str(v).split()) for k, v in r.mapping(raw, path).items()}
        r.ids[self.target] = tuple(result)
        return result

    def absent(self, r: Reader, path: PathKey) -> Any:
        r.ids[self.target] = ()
        return {}


# --- keys and sections ---------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """Required only when ``test(values)`` holds; ``doc`` says when."""

    doc: str
    test: Callable[[Values], bool]


@dataclass(frozen=True)
class Derived:
    """A default computed from the section's other values or from elsewhere in the file."""

    doc: str
    compute: Callable[[Values, Reader], Any]


@dataclass(frozen=True)
class Key:
    """One key of a section: its kind of value, whether it is required or its default,
    and what it means (one or two sentences for the reference)."""

    name: str
    type: Value
    doc: str
    required: bool | When = False
    default: Any = MISSING  # MISSING: the type's; for a required key, the value after a problem
    default_doc: str = ""  # how the default reads in the reference, when not obvious
    field: str = ""  # the model's attribute, when it is not ``name``

    @property
    def attribute(self) -> str:
        return self.field or self.name

    @property
    def fallback(self) -> Any:
        return self.type.default if self.default is MISSING else self.default


@dataclass(frozen=True)
class Section:
    """A mapping in the policy file. ``name`` is its place (``plans.price``), used in the
    reference's markers; ``model`` (when given) is built from the values by keyword."""

    name: str
    keys: tuple[Key, ...]
    model: Callable[..., Any] | None = None
    doc: str = ""
    by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.keys})

    def __getitem__(self, name: str) -> Key:
        return self.by_name[name]

    def subsections(self) -> list[Section]:
        """This section and every section inside it, in declaration order."""
        found = [self]
        for key in self.keys:
            inner = getattr(key.type, "section", None)
            if isinstance(inner, Section):
                found += inner.subsections()
        return found


def read_key(r: Reader, key: Key, data: dict[Any, Any], path: PathKey) -> Any:
    """One key's value; its default when it is left out, null, empty or wrong."""
    raw = data.get(key.name)
    if raw is None:
        value = key.type.absent(r, (*path, key.name))
        if value is MISSING and key.required is True:
            r.problem(path, f"missing required key '{key.name}'")
    else:
        value = key.type.read(r, (*path, key.name), raw)
    return key.fallback if value is MISSING or key.type.empty(value) else value


def read_section(
    r: Reader, section: Section, raw: Any, path: PathKey, *, item_id: str | None = None
) -> Any:
    """Read one mapping: unknown keys, each key's value, defaults, conditional keys."""
    data = r.mapping(raw, path)
    allowed = set(section.by_name)
    for name in data:
        if name not in allowed:
            r.problem((*path, str(name)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    values = Values(path)
    if item_id is not None:
        values["id"] = item_id
    for key in section.keys:
        if key.name != "id":
            values[key.name] = read_key(r, key, data, path)
    for key in section.keys:
        if isinstance(values.get(key.name), Derived):
            values[key.name] = key.default.compute(values, r)
        when = key.required
        if isinstance(when, When) and data.get(key.name) is None and when.test(values):
            r.problem(path, f"missing required key '{key.name}'")
    if item_id is None and path:
        dotted = ".".join(str(p) for p in path)
        r.context.update({f"{dotted}.{k}": v for k, v in values.items()})
    if section.model is None:
        return values
    return section.model(**{key.attribute: values[key.name] for key in section.keys})


class Nested(Value):
    """A mapping with keys of its own. ``optional``: left out or empty, it is off (None)."""

    def __init__(self, section: Section, *, optional: bool = False) -> None:
        self.section, self.optional = section, optional
        self.doc = "mapping"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if self.optional and not r.mapping(raw, path):
            return None
        return read_section(r, self.section, raw, path)

    def absent(self, r: Reader, path: PathKey) -> Any:
        return None if self.optional else read_section(r, self.section, {}, path)


class Items(Value):
    """A list of mappings, each with a unique ``id``; read as {id: item} in file order.
    The ids become ``target`` for references before the items are read, so items may
    refer to each other."""

    def __init__(
        self, section: Section, target: str, *, at_least_one: str = "", as_tuple: bool = False
    ) -> None:
        self.section, self.target, self.at_least_one = section, target, at_least_one
        self.as_tuple = as_tuple  # the model keeps the items as a tuple, not by id
        self.doc = "list"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        if not isinstance(raw, list):
            r.problem(path, "must be a list")
            return self.absent(r, path)
        found: dict[str, tuple[PathKey, dict[Any, Any]]] = {}
        for i, item in enumerate(raw):
            item_path = (*path, i)
            if not isinstance(item, dict):
                r.problem(item_path, "must be a mapping of keys to values")
                continue
            ident = item.get("id")
            if not isinstance(ident, str) or not ID.match(ident):
                r.problem(item_path, "needs an 'id' of lower-case letters, digits, - or _")
            elif ident in found:
                r.problem(item_path, f"duplicate id '{ident}'")
            else:
                found[ident] = (item_path, item)
        r.ids[self.target] = tuple(found)
        if not found and self.at_least_one:
            r.problem(path, self.at_least_one)
        items = {
            ident: read_section(r, self.section, item, item_path, item_id=ident)
            for ident, (item_path, item) in found.items()
        }
        return tuple(items.values()) if self.as_tuple else items

    def absent(self, r: Reader, path: PathKey) -> Any:
        r.ids[self.target] = ()
        if self.at_least_one:
            r.problem(path, self.at_least_one)
        return () if self.as_tuple else {}


class ById(Items):
    """A mapping from id to item (``calendars``), read as {id: item} in file order."""

    def __init__(self, section: Section, target: str, noun: str, *, at_least_one: str) -> None:
        super().__init__(section, target, at_least_one=at_least_one)
        self.noun = noun
        self.doc = f"mapping of {noun} id to {noun}"

    def read(self, r: Reader, path: PathKey, raw: Any) -> Any:
        found: dict[str, PathKey] = {}
        data = r.mapping(raw, path)
        for ident in data:
            if ID.match(str(ident)):
                found[str(ident)] = (*path, str(ident))
            else:
                message = f"{self.noun} ids use lower-case letters, digits, - or _"
                r.problem((*path, str(ident)), message)
        r.ids[self.target] = tuple(found)
        if not found and self.at_least_one:
            r.problem(path, self.at_least_one)
        return {
            ident: read_section(r, self.section, data[ident], item_path, item_id=ident)
            for ident, item_path in found.items()
        }
