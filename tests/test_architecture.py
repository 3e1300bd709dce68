"""The code's shape: data flows one way (kb never imports portal), portal's packages
import each other without cycles, and docs/architecture.md's route and verb tables say
where the code behind every URL and every CLI verb lives.

Regenerate the tables with ``python -m tests.test_architecture``.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import click
from starlette.routing import BaseRoute, Mount, Route

from portal.app import API_METHODS, create_app
from portal.cli import main as cli_main
from portal.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- generated: routes -->", "<!-- end generated: routes -->"
VERBS_BEGIN, VERBS_END = "<!-- generated: verbs -->", "<!-- end generated: verbs -->"


def imports_of(path: Path) -> set[str]:
    """The modules a file imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_of(module: str) -> str | None:
    """``portal.tickets.filing`` -> ``tickets``; top-level portal modules -> None."""
    parts = module.split(".")
    if parts[0] != "portal" or len(parts) < 2:
        return None
    candidate = ROOT / "portal" / parts[1]
    return parts[1] if candidate.is_dir() else None


def portal_package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "portal").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        here = package_of(".".join(rel.parts))
        if here is None or here == "migrations":
            continue
        for target in imports_of(path):
            there = package_of(target)
            if there is not None and there != here:
                graph.setdefault(here, set()).add(there)
    return graph


def test_kb_never_imports_portal() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "kb").rglob("*.py")
        if any(m == "portal" or m.startswith("portal.") for m in imports_of(path))
    ]
    assert offenders == []


def test_portal_packages_have_no_import_cycles() -> None:
    graph = portal_package_graph()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif len(trail) < 10:
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == [], cycles


def test_the_wizard_does_not_import_tickets() -> None:
    """Filing uses the wizard's types (tickets -> wizard.flow); never the other way."""
    assert "tickets" not in portal_package_graph().get("wizard", set())


def _endpoint_module(route: Route) -> str:
    endpoint = inspect.unwrap(route.endpoint)
    return f"{endpoint.__module__}.{endpoint.__qualname__}"


def _routes(routes: list[BaseRoute]) -> list[tuple[str, str, str, str]]:
    rows = []
    for route in routes:
        if isinstance(route, Mount):
            rows.append((route.path + "/…", "GET", str(route.name), "static files"))
        elif isinstance(route, Route):
            methods = sorted((route.methods or set()) - {"HEAD"})
            shown = API_METHODS.get(route.path) or ", ".join(methods)
            rows.append((route.path, shown, str(route.name), _endpoint_module(route)))
    return rows


def route_table() -> str:
    settings = Settings.from_env()
    app = create_app(settings, build_if_missing=False, run_outbox=False)
    lines = ["| path | methods | route name | code |", "| --- | --- | --- | --- |"]
    lines += [f"| `{p}` | {m} | `{n}` | `{c}` |" for p, m, n, c in _routes(app.routes)]
    return "\n".join(lines)


def _verbs(group: click.Group, prefix: str) -> list[tuple[str, str]]:
    rows = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            rows += _verbs(command, f"{prefix}{name} ")
        else:
            callback = inspect.unwrap(command.callback) if command.callback else None
            where = f"{callback.__module__}.{callback.__qualname__}" if callback else "-"
            rows.append((f"{prefix}{name}", where))
    return rows


def verb_table() -> str:
    lines = ["| verb | code |", "| --- | --- |"]
    lines += [f"| `portal {v}` | `{c}` |" for v, c in _verbs(cli_main, "")]
    return "\n".join(lines)


def _between(text: str, begin: str, end: str) -> str:
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def _replace(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def test_route_table_is_current() -> None:
    assert _between(DOC.read_text("utf-8"), BEGIN, END) == route_table(), (
        "docs/architecture.md is out of date: run `python -m tests.test_architecture`"
    )


def test_verb_table_is_current() -> None:
    assert _between(DOC.read_text("utf-8"), VERBS_BEGIN, VERBS_END) == verb_table(), (
        "docs/architecture.md is out of date: run `python -m tests.test_architecture`"
    )


if __name__ == "__main__":  # regenerate the tables
    text = DOC.read_text("utf-8")
    text = _replace(text, BEGIN, END, route_table())
    text = _replace(text, VERBS_BEGIN, VERBS_END, verb_table())
    DOC.write_text(text, "utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
