"""Schemathesis against the JSON API's OpenAPI description (/api/openapi.json):
generated requests never cause a server error and answers match the schema. The
description is generated from the API routes and the schemas their views validate
with (``portal.api``, ``portal.openapi``): it holds exactly those routes, every
declared type is enforced, and the validator's JSON Schema subset agrees with
jsonschema-rs."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from kb.build import build
from portal import api
from portal.api import ApiRoute
from portal.app import API_METHODS, create_app
from portal.config import Settings
from portal.kb.building import build_options
from tests.support.paths import CONTENT

# schemathesis collects its tests from a schema loaded at import time: the app and its
# (small) build and database are made here, once, in a temporary directory
_VAR = Path(tempfile.mkdtemp(prefix="portal-api-schema-"))
_SETTINGS = Settings.from_env(
    content_dir=CONTENT,
    policy_file=CONTENT / "policy.yaml",
    build_dir=_VAR / "build",
    database_url=f"sqlite:///{_VAR}/portal.db",
    secret_key="schema-tests",
    allowed_hosts=("*",),
)
build(build_options(_SETTINGS))
APP = create_app(_SETTINGS, run_outbox=False)
APP.state.db.upgrade()

schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, response.text
    # whether a well-formed request is *accepted* depends on the policy and the account
    # directory (semantic rules a JSON schema cannot express), so that check is left out
    case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])


# --- the document is generated from the routes and the schemas the views validate with --

CLIENT = TestClient(APP)
DOCUMENT: dict[str, Any] = CLIENT.get("/api/openapi.json").json()


def _all_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += _all_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


API_ROUTES = [(path, route) for path, route in _all_routes(APP.routes) if path.startswith("/api/")]


def test_every_api_route_declares_an_operation_and_a_summary() -> None:
    known = {"/api/search", "/api/triage", "/api/requests", "/api/openapi.json"}
    assert known <= {path for path, _ in API_ROUTES}
    for path, route in API_ROUTES:
        assert isinstance(route, ApiRoute), path
        assert API_METHODS[path] == route.operation.method
        assert (inspect.getdoc(route.view) or "").strip(), f"{path}: the view has no docstring"


def test_the_served_document_has_exactly_the_api_routes() -> None:
    served = {path: set(item) for path, item in DOCUMENT["paths"].items()}
    assert served == {path: {API_METHODS[path].lower()} for path, _ in API_ROUTES}
    for path, item in DOCUMENT["paths"].items():
        for entry in item.values():
            assert entry["summary"], path
            assert "405" in entry["responses"], path


def _wrong(schema: dict[str, Any]) -> Any:
    """A value of none of the schema's types."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    return next(v for v in ("x", 5, True, {"k": "v"}, ["x"], None) if not _fits(v, types))


def _fits(value: Any, types: list[str]) -> bool:
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "object": dict,
        "array": list,
        "boolean": bool,
        "null": type(None),
    }
    if isinstance(value, bool):
        return "boolean" in types
    return any(isinstance(value, kinds[t]) for t in types)


BODY_FIELDS = [
    (path, name, schema)
    for path, item in DOCUMENT["paths"].items()
    for entry in item.values()
    if "requestBody" in entry
    for name, schema in entry["requestBody"]["content"]["application/json"]["schema"][
        "properties"
    ].items()
]


@pytest.mark.parametrize(
    ("path", "name", "schema"), BODY_FIELDS, ids=[f"{p} {n}" for p, n, _ in BODY_FIELDS]
)
def test_every_declared_body_field_type_is_enforced(
    path: str, name: str, schema: dict[str, Any]
) -> None:
    """For each field the document declares: a value of another type gets 422 naming
    it (``version: 5`` and ``accept_charges: "yes"`` used to be accepted by
    /api/requests), and so does a wrong value inside an object's declared values."""
    response = CLIENT.post(path, json={name: _wrong(schema)})
    assert response.status_code == 422, response.text
    assert name in response.json()["fields"], response.text
    inner = schema.get("additionalProperties")
    if isinstance(inner, dict):
        response = CLIENT.post(path, json={name: {"doing": _wrong(inner)}})
        assert response.status_code == 422, response.text
        assert set(response.json()["fields"]) == {f"{name}.doing"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "5"}, "the query parameter q is required"),
        ({"q": "mail", "limit": "0"}, "limit must be a whole number from 1 to 50"),
        ({"q": "mail", "limit": "51"}, "limit must be a whole number from 1 to 50"),
        ({"q": "mail", "limit": "five"}, "limit must be a whole number from 1 to 50"),
        ({"q": "mail", "limit": "+5"}, "limit must be a whole number from 1 to 50"),
        # a digit that str.isdigit() takes and int() refuses: this was a 500
        ({"q": "mail", "limit": "²"}, "limit must be a whole number from 1 to 50"),
    ],
)
def test_query_parameters_are_read_with_their_declaration(
    query: dict[str, str], message: str
) -> None:
    response = CLIENT.get("/api/search", params=query)
    assert response.status_code == 422
    assert response.json()["error"] == message


def test_a_declared_default_applies() -> None:
    """limit is declared with default 10: without it, at most 10 hits come back."""
    many = CLIENT.get("/api/search", params={"q": "mail", "limit": "50"}).json()
    default = CLIENT.get("/api/search", params={"q": "mail"}).json()
    assert len(many["hits"]) > 10
    assert default["hits"] == many["hits"][:10]


def test_an_input_schema_keyword_that_is_not_enforced_is_refused() -> None:
    with pytest.raises(ValueError, match="pattern"):
        api.Param("code", {"type": "string", "pattern": "^[A-Z]+$"})
    with pytest.raises(ValueError, match="oneOf"):
        api.Body({"type": "object", "properties": {"a": {"oneOf": []}}}, max_bytes=10)


# --- portal.api's JSON Schema subset answers as jsonschema-rs does ---------------------

EVERY_KEYWORD: dict[str, Any] = {
    "type": "object",
    "required": ["a"],
    "additionalProperties": False,
    "properties": {
        "a": {"type": "string", "minLength": 1, "maxLength": 3},
        "b": {"type": "integer", "minimum": 1, "maximum": 5},
        "c": {"enum": ["x", 1, False, None]},
        "d": {"type": "array", "items": {"type": ["number", "null"], "minimum": 0}},
        "e": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}
INPUT_SCHEMAS = [
    EVERY_KEYWORD,
    *EVERY_KEYWORD["properties"].values(),
    *(
        entry["requestBody"]["content"]["application/json"]["schema"]
        for item in DOCUMENT["paths"].values()
        for entry in item.values()
        if "requestBody" in entry
    ),
    *(
        p["schema"]
        for item in DOCUMENT["paths"].values()
        for entry in item.values()
        for p in entry.get("parameters", [])
    ),
]
_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 60)
    | st.sampled_from([0.0, 1.0, 2.5, -0.5, 1e300])
    | st.text(st.characters(codec="utf-8"), max_size=4),  # no lone surrogates
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=8,
)


def near(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that mostly fit ``schema`` and often miss it just past an edge: a string
    one character too long, a number one past its maximum, a missing or unknown key."""
    options: list[st.SearchStrategy[Any]] = [_ANY]
    if "enum" in schema:  # and what JSON tells apart from them: true is not 1
        options.append(st.sampled_from([*schema["enum"], True, False, 0, 1, 1.0, "1"]))
    types = schema.get("type", [])
    for kind in [types] if isinstance(types, str) else types:
        if kind == "string":
            low, high = schema.get("minLength", 0), schema.get("maxLength", 3)
            options.append(st.text(min_size=max(0, low - 1), max_size=high + 1))
        elif kind in ("integer", "number"):
            low, high = schema.get("minimum", -3), schema.get("maximum", 60)
            options.append(st.integers(low - 1, high + 1))
            if kind == "number":
                options.append(st.floats(low - 1, high + 1))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array":
            items = schema.get("items")
            options.append(st.lists(near(items) if isinstance(items, dict) else _ANY, max_size=3))
        elif kind == "object":
            extra = schema.get("additionalProperties")
            known = st.fixed_dictionaries(
                {}, optional={k: near(v) for k, v in schema.get("properties", {}).items()}
            )
            unknown = st.dictionaries(
                st.sampled_from(["x", "doing"]),
                near(extra) if isinstance(extra, dict) else _ANY,
                max_size=1,
            )
            options.append(st.builds(lambda a, b: {**b, **a}, known, unknown | st.just({})))
    return st.one_of(options)


@pytest.mark.parametrize("schema", INPUT_SCHEMAS, ids=range(len(INPUT_SCHEMAS)))
@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_the_schema_subset_agrees_with_jsonschema_rs(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    value = data.draw(near(schema))
    problems = api.validate(schema, value)
    assert (not problems) == jsonschema_rs.is_valid(schema, value), problems
