"""The JSON API's operations, each declared once next to its view: its query parameters
and JSON body with their JSON Schemas, and its answers with theirs (the summary is the
view's docstring). The views validate their input against these same declarations
(``query``, ``json_body``, ``check_body``) and ``portal.openapi`` builds the OpenAPI
document from the routes that carry them (``ApiRoute``), so the description cannot
drift from what the views accept.

Input schemas use a small subset of JSON Schema, checked here rather than by a library
(one fewer compiled runtime dependency, and messages written for people):
``type``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``enum``,
``minLength``/``maxLength``, ``minimum``/``maximum``, plus the annotations
``description``, ``format``, ``default``, ``examples`` and ``title``. Declaring any
other keyword in an input schema fails at import, so nothing declared goes unchecked;
tests/test_api_schema.py checks that this subset answers as jsonschema-rs does.
A ``format`` is documentation only (as in JSON Schema); a view checks what it needs.

Problems are named by path as ``portal.inputs.check_json`` names them (``text``,
``details.doing``, ``tags[2]``), each with what the value must be ("must be a whole
number from 1 to 50").
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.http import BodyError, read_json

Schema = dict[str, Any]  # a JSON Schema, as it appears in the OpenAPI document
View = Callable[[Request], Awaitable[Response]]

VALIDATED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
    }
)
ANNOTATIONS = frozenset({"description", "format", "default", "examples", "title"})

# what every error answer holds: a sentence, and for input problems path -> problem
ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class Reply:
    """One answer of an operation: what it means and the schema of its JSON body."""

    description: str
    schema: Schema = field(default_factory=lambda: ERROR)


@dataclass(frozen=True)
class Param:
    """A query parameter. Its value is read as the schema's type (``integer``:
    ASCII digits with an optional minus; ``boolean``: ``true`` or ``false``)."""

    name: str
    schema: Schema
    required: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        check_schema(self.schema, where=f"query parameter {self.name}")


@dataclass(frozen=True)
class Body:
    """A JSON request body (always an object). ``media_type=None`` reads any media
    type as JSON; a body that is not JSON, or not an object, gets ``invalid_status``;
    one past ``max_bytes`` gets 413."""

    schema: Schema
    max_bytes: int
    media_type: str | None = "application/json"
    invalid_status: int = 400
    description: str = ""

    def __post_init__(self) -> None:
        check_schema(self.schema, where="request body")
        if self.schema.get("type") != "object":
            raise ValueError("a request body's schema must be of type object")


@dataclass(frozen=True)
class Operation:
    """One method on one API path: what it reads and what it answers. The answers that
    follow from the declaration (405, and 400/413/415/422 for a body or parameters) are
    added to the document by ``portal.openapi``; ``responses`` holds the others."""

    method: str
    responses: Mapping[int, Reply]
    parameters: tuple[Param, ...] = ()
    body: Body | None = None


class ApiRoute(Route):
    """A route of the JSON API, carrying its declared operation and the view behind it
    (``portal.openapi`` walks the application's routes for these)."""

    def __init__(
        self,
        path: str,
        endpoint: View,
        *,
        view: View,
        operation: Operation,
        methods: list[str],
        name: str,
    ) -> None:
        super().__init__(path, endpoint, methods=methods, name=name)
        self.view = view
        self.operation = operation


class Invalid(Exception):
    """Input that does not match its declaration: answered by ``app.api_route`` as
    ``{"error": ..., "fields": {path: problem}}`` (``fields`` when there are any)."""

    def __init__(self, status: int, error: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fields = dict(fields or {})

    def content(self) -> dict[str, Any]:
        if self.fields:
            return {"error": self.error, "fields": self.fields}
        return {"error": self.error}


# --- reading input with its declaration ------------------------------------------------


def query(request: Request, operation: Operation) -> dict[str, Any]:
    """The declared query parameters, read as their types, with their defaults; Invalid
    (422) naming every parameter that is missing or does not match. Undeclared
    parameters are left alone (the view does not read them from here)."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    missing: list[str] = []
    for param in operation.parameters:
        raw = request.query_params.get(param.name)
        if raw is None:
            if param.required:
                missing.append(param.name)
                problems[param.name] = "is required"
            elif "default" in param.schema:
                values[param.name] = param.schema["default"]
            continue
        value = _from_query(raw, param.schema)
        found = validate(param.schema, value, path=param.name)
        if found:
            problems.update(found)
        else:
            values[param.name] = value
    if problems:
        first = f"the query parameter {missing[0]} is required" if missing else _summary(problems)
        raise Invalid(422, first, problems)
    return values


async def json_body(request: Request, operation: Operation) -> dict[str, Any]:
    """The JSON object the request carries, read within the declared limits (Invalid
    with 415, 413 or the body's ``invalid_status``); not yet checked against the schema:
    a view first refuses characters no field accepts (``portal.inputs``), then calls
    ``check_body``."""
    body = operation.body
    if body is None:
        raise TypeError("this operation declares no request body")
    try:
        data = await read_json(
            request,
            max_bytes=body.max_bytes,
            media_type=body.media_type,
            invalid_status=body.invalid_status,
        )
    except BodyError as exc:
        raise Invalid(exc.status, exc.message) from exc
    if not isinstance(data, dict):
        raise Invalid(body.invalid_status, "the body must be a JSON object")
    return data


def check_body(operation: Operation, data: Any) -> None:
    """Invalid (422, every problem by path) unless ``data`` matches the declared body."""
    if operation.body is None:
        raise TypeError("this operation declares no request body")
    problems = validate(operation.body.schema, data)
    if problems:
        raise Invalid(422, _summary(problems), problems)


def _summary(problems: Mapping[str, str]) -> str:
    path, problem = next(iter(problems.items()))
    first = f"{path or 'the body'} {problem}"
    more = len(problems) - 1
    return f"{first} (and {more} more: see fields)" if more else first


_INTEGER = re.compile(r"-?[0-9]+")


def _from_query(raw: str, schema: Schema) -> Any:
    """A query string as the schema's type, or the string itself when it is not one
    (``validate`` then says what it must be)."""
    types = _types(schema)
    if ("integer" in types or "number" in types) and _INTEGER.fullmatch(raw):
        return int(raw)
    if "number" in types:
        try:
            number = float(raw)
        except ValueError:
            return raw
        return number if math.isfinite(number) else raw
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


# --- the JSON Schema subset ------------------------------------------------------------


def check_schema(schema: Schema, *, where: str) -> None:
    """ValueError when an input schema uses a keyword this module does not enforce."""
    unknown = set(schema) - VALIDATED - ANNOTATIONS
    if unknown:
        raise ValueError(f"{where}: JSON Schema keywords not enforced here: {sorted(unknown)}")
    for name, child in schema.get("properties", {}).items():
        check_schema(child, where=f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        child = schema.get(key)
        if isinstance(child, dict):
            check_schema(child, where=f"{where} {key}")


_NOUNS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a list",
    "null": "null",
}


def _types(schema: Schema) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _is(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return type_name == "boolean"
    if type_name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return isinstance(value, int | float)
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "object": dict,
        "array": list,
        "null": type(None),
    }
    return isinstance(value, kinds[type_name])


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1; 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return bool((type(a) is type(b) or numbers) and a == b)


def describe(schema: Schema) -> str:
    """What a value must be, as the end of "… must be ___"."""
    if "enum" in schema:
        return "one of " + ", ".join(_shown(v) for v in schema["enum"])
    types = _types(schema)
    text = " or ".join(_NOUNS[t] for t in types) if types else "a JSON value"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        text += f" from {low} to {high}"
    elif low is not None:
        text += f" of at least {low}"
    elif high is not None:
        text += f" of at most {high}"
    shortest, longest = schema.get("minLength"), schema.get("maxLength")
    if shortest is not None and longest is not None:
        text += f" of {shortest} to {longest} characters"
    elif shortest is not None:
        text += f" of at least {shortest} characters"
    elif longest is not None:
        text += f" of at most {longest} characters"
    return text


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def validate(schema: Schema, value: Any, *, path: str = "") -> dict[str, str]:
    """Path -> problem for every place where ``value`` does not match ``schema``
    (empty when it does). Recursion follows the value, whose depth the caller bounds
    (``portal.http.read_json``)."""
    wrong = {path: f"must be {describe(schema)}"}
    types = _types(schema)
    if types and not any(_is(value, t) for t in types):
        return wrong
    if "enum" in schema and not any(_equal(value, v) for v in schema["enum"]):
        return wrong
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if _is(value, "number") and not low <= value <= high:
        return wrong
    shortest, longest = schema.get("minLength", 0), schema.get("maxLength", math.inf)
    if isinstance(value, str) and not shortest <= len(value) <= longest:
        return wrong
    problems: dict[str, str] = {}
    if isinstance(value, dict):
        properties: dict[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name in schema.get("required", []):
            if name not in value:
                problems[_child(path, name)] = "is required"
        for key, item in value.items():
            child = _child(path, str(key))
            if key in properties:
                problems.update(validate(properties[key], item, path=child))
            elif extra is False:
                problems[child] = "is not a field this accepts"
            elif isinstance(extra, dict):
                problems.update(validate(extra, item, path=child))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problems.update(validate(schema["items"], item, path=f"{path}[{index}]"))
    return problems


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
