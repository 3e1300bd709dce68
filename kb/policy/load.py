"""Read a policy file: YAML with line marks → the schema → the model.

Every problem is reported with the file and the line of the key or value concerned
(``policy.yaml:212: request_types.14.rate: unknown rate 'hourley'``). What each key may
hold is declared once, in :mod:`kb.policy.schema`; this module adds what YAML itself
hides (a key given twice) and the rules that span several keys (``check_*``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from kb.policy import schema
from kb.policy.details import ALWAYS_OPTIONAL
from kb.policy.fields import UNPUBLISHED, PathKey, Reader, Values, parse_windows, read_section
from kb.policy.model import NO_PLAN, Calendar, Emergency, Policy, RequestType
from kb.problems import Problem

__all__ = ["check_article_references", "load_policy", "parse_policy", "parse_windows"]

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _lines(
    node: yaml.Node, path: PathKey, out: dict[PathKey, int], duplicates: list[tuple[PathKey, int]]
) -> None:
    """The line of every key and list item, and the keys YAML would silently drop."""
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            k = str(key.value)
            if k in seen:
                duplicates.append(((*path, k), key.start_mark.line + 1))
            seen.add(k)
            _lines(value, (*path, k), out, duplicates)
            out[(*path, k)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out, duplicates)


def _read_yaml(text: str, source: str) -> tuple[Any, Reader] | Problem:
    """The data and a Reader that knows its lines, or the YAML error."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        lines: dict[PathKey, int] = {}
        duplicates: list[tuple[PathKey, int]] = []
        if node is not None:
            _lines(node, (), lines, duplicates)  # before construction flattens merge keys
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return Problem(source, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")
    finally:
        loader.dispose()
    r = Reader(source, lines)
    for dup_path, dup_line in duplicates:
        where = ".".join(str(p) for p in dup_path)
        r.problems.append(
            Problem(source, dup_line, f"{where}: key given twice (the last one would win)")
        )
    return data, r


def parse_policy(text: str, source: str = "policy.yaml") -> tuple[Policy | None, list[Problem]]:
    """Parse policy YAML text. Returns (policy or None, problems in file order)."""
    read = _read_yaml(text, source)
    if isinstance(read, Problem):
        return None, [read]
    data, r = read
    if not isinstance(data, dict) or not data:
        return None, [Problem(source, 1, "the policy file is empty or not a mapping")]
    v = read_section(r, schema.POLICY, data, ())
    calendars = {cid: _calendar(r, c) for cid, c in v["calendars"].items()}
    request_types = {rid: _request_type(r, t) for rid, t in v["request_types"].items()}
    emergency = _emergency(v["emergency"])
    policy = Policy(
        provider=v["provider"],
        calendars=calendars,
        plans=v["plans"],
        priorities=v["priorities"],
        rates=v["rates"],
        fees=v["fees"],
        request_types=request_types,
        categories=v["request_type_categories"],
        versions=v["versions"],
        contacts=v["contacts"],
        emergency=emergency,
        waivers=v["waivers"],
        notices=v["notices"],
        source=source,
        digest=hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest(),
    )
    check_versions(r, policy)
    check_emergency(r, policy, v["emergency"])
    check_coverage_offered(r, policy)
    check_routing(r, policy)
    check_schedules(r, policy)
    return policy, sorted(r.problems, key=lambda p: p.line)


def load_policy(path: Path, source: str | None = None) -> tuple[Policy | None, list[Problem]]:
    """Read a policy file. ``source`` is the name used in problems (default: the path)."""
    name = source or str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        return None, [Problem(name, 1, f"cannot read the policy file: {exc.strerror}")]
    return parse_policy(text, name)


# --- sections whose model is not a plain copy of their keys ---------------------------


def _calendar(r: Reader, v: Values) -> Calendar:
    holidays: Values = v["holidays"]
    country, subdivision = holidays["country"], holidays["subdivision"]
    if country and subdivision:
        import holidays as holidays_lib

        if subdivision not in holidays_lib.list_supported_countries()[country]:
            r.problem((*holidays.path, "subdivision"), f"unknown subdivision '{subdivision}'")
            subdivision = None
    published = v["hours"] != UNPUBLISHED
    return Calendar(
        id=v["id"],
        name=v["name"],
        timezone=v["timezone"],
        weekly=v["hours"] if published else ((),) * 7,
        holiday_country=country,
        holiday_subdivision=subdivision,
        extra_closed=holidays["extra"],
        holiday_hours=holidays["hours"],
        published=published,
        note=v["note"],
    )


def _request_type(r: Reader, v: Values) -> RequestType:
    coverage, default_coverage = v["coverage"] or ({}, None)
    check_request_type(r, v, coverage, default_coverage)
    fields = {key.attribute: v[key.name] for key in schema.REQUEST_TYPE_ITEM.keys}
    fields.update(coverage=coverage, default_coverage=default_coverage)
    return RequestType(**fields)


def _emergency(v: Values | None) -> Emergency | None:
    if v is None:
        return None
    fields = {key.attribute: v[key.name] for key in schema.EMERGENCY.keys if key.name != "abuse"}
    abuse = dict(v["abuse"])
    return Emergency(**fields, abuse_text=abuse.pop("text"), **abuse)


# --- rules that span several keys ------------------------------------------------------


def check_request_type(
    r: Reader, v: Values, coverage: dict[str, str], default_coverage: str | None
) -> None:
    """Coverage for every plan, a price for paid work, a default among the priorities."""
    path, cov_path = v.path, (*v.path, "coverage")
    plans = r.ids[schema.PLAN.name]
    if v["coverage"] is not None and not coverage and default_coverage is None:
        r.problem(path, "missing coverage: give a status per plan or a default")
    missing = [p for p in plans if p not in coverage] if default_coverage is None else []
    if coverage and missing:
        r.problem(cov_path, f"no coverage for plan(s) {', '.join(missing)} and no default")
    statuses = {*coverage.values(), default_coverage}
    if "paid" in statuses and not (v["rate"] or v["fee"]):
        r.problem(path, "paid coverage needs a 'rate' or a 'fee'")
    default = v["default_priority"]
    if default and default not in v["priorities"]:
        r.problem((*path, "default_priority"), f"'{default}' is not one of this type's priorities")
    asked = set(v["details"])
    for detail in v["optional_details"]:
        if detail not in asked:
            r.problem((*path, "optional_details"), f"'{detail}' is not one of this type's details")
    grouped: set[str] = set()
    for group in v["detail_groups"]:
        for detail in group.members:
            if detail not in asked:
                r.problem((*path, "detail_groups"), f"'{detail}' is not one of this type's details")
            elif detail in grouped:
                r.problem((*path, "detail_groups"), f"'{detail}' is in two detail groups")
        grouped.update(group.members)
    for detail in grouped & set(v["optional_details"]) - ALWAYS_OPTIONAL:
        r.problem(
            (*path, "optional_details"),
            f"'{detail}' is in a detail group already (a group says which details may be empty)",
        )


def check_versions(r: Reader, policy: Policy) -> None:
    versions = policy.versions
    if versions is not None and versions.free_bugfix_latest > len(versions.releases):
        r.problem(
            ("versions", "free_bugfix_latest"), "is larger than the number of releases listed"
        )


def check_emergency(r: Reader, policy: Policy, v: Values | None) -> None:
    """``emergency: true`` on a request type and ``emergency.request_types`` agree."""
    e = policy.emergency
    if e is not None and v is not None:
        for rt_id in e.highest:
            if rt_id not in e.request_types:
                r.problem((*v.path, "highest"), f"'{rt_id}' must also be listed in request_types")
        for rt_id in e.request_types:
            listed = policy.request_types.get(rt_id)
            if listed is not None and not listed.emergency:
                r.problem(
                    (*v.path, "request_types"),
                    f"request type '{rt_id}' is listed but does not set 'emergency: true'",
                )
    for rt in policy.request_types.values():
        if rt.emergency and (e is None or rt.id not in e.request_types):
            r.problem(
                ("request_types",),
                f"request type '{rt.id}' sets 'emergency: true' "
                "but is not in emergency.request_types",
            )


def check_coverage_offered(r: Reader, policy: Policy) -> None:
    """``not_in_plan`` means another plan has it: a type no plan includes or charges for
    is not offered at all (``unsupported``)."""
    for i, rt in enumerate(policy.request_types.values()):
        statuses = [rt.status_for(p) for p in policy.plans]
        if "not_in_plan" in statuses and not {"included", "paid"} & set(statuses):
            r.problem(
                ("request_types", i, "coverage"),
                f"'{rt.id}' is not_in_plan on every plan that has it, but no plan includes or "
                "charges for it: write unsupported (not offered)",
            )
    for plan in policy.plans.values():
        ended = plan.when_ended.plan if plan.when_ended else NO_PLAN
        if ended != NO_PLAN and ended == plan.id:
            r.problem(
                ("plans", list(policy.plans).index(plan.id), "when_ended", "plan"),
                "a plan cannot fall back to itself: name another plan or none",
            )


def check_routing(r: Reader, policy: Policy) -> None:
    """Requests routed to the supervisor need the supervisor's address."""
    if policy.provider.supervisor_email:
        return
    for i, rt in enumerate(policy.request_types.values()):
        if rt.routing == "supervisor":
            r.problem(
                ("request_types", i, "routing"),
                "routing: supervisor needs provider.supervisor_email",
            )


def check_schedules(r: Reader, policy: Policy) -> None:
    """A type that schedules a server's cancellation must ask which server."""
    for i, rt in enumerate(policy.request_types.values()):
        if rt.schedules == "cancellation" and "server" not in rt.details:
            r.problem(
                ("request_types", i, "schedules"),
                "schedules: cancellation needs server in details (which server to cancel)",
            )


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
