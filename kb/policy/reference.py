"""The key reference in docs/policy.md, generated from the policy schema.

The page keeps its hand-written explanations and examples; each table of keys sits
between ``<!-- policy-reference:NAME:start -->`` and ``…:end -->`` markers, one block per
section of :mod:`kb.policy.schema` (NAME is the section's place, like ``plans.price``)
and one for the detail ids. Regenerate the tables with::

    python -m kb.policy.reference --write docs/policy.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kb.policy.details import DETAIL_FIELDS, KIND_NAMES
from kb.policy.fields import Derived, Key, Section, When
from kb.policy.schema import POLICY

SECTIONS: tuple[Section, ...] = tuple(POLICY.subsections())


def _default_doc(key: Key) -> str:
    if key.required is True:
        return "required"
    if isinstance(key.required, When):
        return key.required.doc
    if key.default_doc:
        return key.default_doc
    if isinstance(key.default, Derived):
        return key.default.doc
    value = key.fallback
    if value is None or value == () or value == {}:
        return "none"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def section_table(section: Section) -> str:
    lines = []
    if section.doc:
        lines += [section.doc, ""]
    lines += [
        "| key | type | required / default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key in section.keys:
        lines.append(
            f"| `{key.name}` | {_cell(key.type.doc)} | {_cell(_default_doc(key))} "
            f"| {_cell(key.doc)} |"
        )
    return "\n".join(lines)


def details_table() -> str:
    lines = [
        "| id | the customer sees | kind of answer | help shown |",
        "| --- | --- | --- | --- |",
    ]
    for d in DETAIL_FIELDS.values():
        lines.append(f"| `{d.id}` | {d.label} | {KIND_NAMES[d.kind]} | {d.help} |")
    return "\n".join(lines)


def reference_blocks() -> dict[str, str]:
    """Block name → generated Markdown, for every section and the detail ids."""
    blocks = {s.name: section_table(s) for s in SECTIONS}
    blocks["details"] = details_table()
    return blocks


def start_marker(name: str) -> str:
    return f"<!-- policy-reference:{name}:start -->"


def end_marker(name: str) -> str:
    return f"<!-- policy-reference:{name}:end -->"


def update_reference(page: str) -> str:
    """``page`` with every generated block replaced by what the schema gives now.
    Raises ValueError when a block's markers are missing or given twice."""
    for name, body in reference_blocks().items():
        start, end = start_marker(name), end_marker(name)
        if page.count(start) != 1 or page.count(end) != 1:
            raise ValueError(f"docs/policy.md needs exactly one '{start}' … '{end}' block")
        head, rest = page.split(start)
        _, tail = rest.split(end)
        page = f"{head}{start}\n{body}\n{end}{tail}"
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kb.policy.reference",
        description="Regenerate the key reference in docs/policy.md from the policy schema.",
    )
    parser.add_argument("page", nargs="?", type=Path, default=Path("docs/policy.md"))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the page in place")
    mode.add_argument("--check", action="store_true", help="exit 1 when the page differs")
    args = parser.parse_args(argv)
    page = args.page.read_text("utf-8")
    try:
        updated = update_reference(page)
    except ValueError as exc:
        print(f"{args.page}: {exc}", file=sys.stderr)
        return 2
    if args.write:
        if updated != page:
            args.page.write_text(updated, "utf-8")
        print(f"{args.page}: {'updated' if updated != page else 'up to date'}")
        return 0
    if args.check:
        if updated != page:
            print(
                f"{args.page} is out of date: run python -m kb.policy.reference --write {args.page}"
            )
            return 1
        return 0
    sys.stdout.write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
