"""The OpenAPI description of the JSON API, served at /api/openapi.json: built from the
application's routes and the operations they declare (``portal.api``), never written
beside them. Each operation's summary is the first paragraph of its view's docstring
and its description the rest; parameters, request body and answers are the schemas
the view validates and answers with, plus the answers that follow from them."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount

from portal import api

TITLE = "Support Portal API"
VERSION = "1"

OPENAPI = api.Operation(
    "GET",
    responses={
        200: api.Reply(
            "This document (OpenAPI 3.1)",
            {"type": "object", "required": ["openapi", "info", "paths"]},
        )
    },
)


def api_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, api.ApiRoute]]:
    """(full path, route) for every API route, also inside mounts, in declaration order."""
    for route in routes:
        if isinstance(route, api.ApiRoute):
            yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from api_routes(route.routes, prefix + route.path)


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, route in api_routes(routes):
        paths.setdefault(path, {})[route.operation.method.lower()] = operation(route)
    return {"openapi": "3.1.0", "info": {"title": TITLE, "version": VERSION}, "paths": paths}


def operation(route: api.ApiRoute) -> dict[str, Any]:
    """One operation object: what the view's docstring says, what it declares, and the
    answers that follow from the declaration."""
    summary, _, description = (inspect.getdoc(route.view) or "").partition("\n\n")
    declared = route.operation
    entry: dict[str, Any] = {"operationId": route.name, "summary": " ".join(summary.split())}
    if description.strip():
        entry["description"] = description.strip()
    if declared.parameters:
        entry["parameters"] = [_parameter(p) for p in declared.parameters]
    replies: dict[int, api.Reply] = {405: api.Reply("Method not allowed")}
    body = declared.body
    if body is not None:
        content = {body.media_type or "application/json": {"schema": body.schema}}
        entry["requestBody"] = {"required": True, "content": content}
        if body.description:
            entry["requestBody"]["description"] = body.description
        replies[body.invalid_status] = api.Reply("The body is not JSON, or not an object")
        replies[413] = api.Reply("The body is too large")
        if body.media_type is not None:
            replies[415] = api.Reply(f"The body is not {body.media_type}")
    if declared.parameters or body is not None:
        replies[422] = api.Reply("Invalid input: the error, and the fields when there are any")
    replies.update(declared.responses)
    entry["responses"] = {
        str(status): {
            "description": reply.description,
            "content": {"application/json": {"schema": reply.schema}},
        }
        for status, reply in sorted(replies.items())
    }
    return entry


def _parameter(param: api.Param) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": param.name, "in": "query", "schema": param.schema}
    if param.required:
        entry["required"] = True
    if param.description:
        entry["description"] = param.description
    return entry


async def openapi(request: Request) -> Response:
    """The OpenAPI description of this API, generated from its routes."""
    return JSONResponse(document(request.app.routes))
