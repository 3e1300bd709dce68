"""Split a Markdown file into YAML front matter and body, keeping line numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# the C loader is several times faster; fall back when PyYAML was built without libyaml
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_KEY_LINE = re.compile(r"^([A-Za-z_][\w.-]*)\s*:")


class FrontMatterError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Document:
    meta: dict[str, Any]
    body: str
    body_line: int  # 1-based line number of the body's first line in the file
    key_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, 1)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def split(text: str) -> Document:
    """Return the front matter and body of ``text``.

    Raises FrontMatterError (with a 1-based line) when the front matter is missing,
    unterminated, not valid YAML or not a mapping.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise FrontMatterError(1, "missing front matter: the file must start with a '---' line")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise FrontMatterError(1, "unterminated front matter: no closing '---' line")
    raw = "\n".join(lines[1:end])
    try:
        meta = load_yaml(raw) if raw.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise FrontMatterError(line, f"front matter is not valid YAML: {problem}") from exc
    if not isinstance(meta, dict):
        raise FrontMatterError(2, "front matter must be a mapping of keys to values")
    key_lines: dict[str, int] = {}
    for number, line in enumerate(lines[1:end], start=2):
        match = _KEY_LINE.match(line)
        if match and match.group(1) not in key_lines:
            key_lines[match.group(1)] = number
    body = "\n".join(lines[end + 1 :])
    return Document(meta=meta, body=body, body_line=end + 2, key_lines=key_lines)
