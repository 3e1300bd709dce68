"""The OpenAPI description of the JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_COVERAGE = {
    "type": "object",
    "required": ["status", "reason", "rate", "fee"],
    "properties": {
        "status": {
            "type": "string",
            "enum": [
                "included",
                "paid",
                "unsupported",
                "not_in_plan",
                "role_not_allowed",
                "version_unsupported",
            ],
        },
        "reason": {"type": "string"},
        "rule": {"type": "string"},
        "rate": {"type": ["object", "null"]},
        "fee": {"type": ["object", "null"]},
        "estimate": {"type": ["object", "null"]},
        "plans_covering": {"type": "array", "items": {"type": "string"}},
        "articles": {"type": "array", "items": {"type": "string"}},
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Support Portal API", "version": "1"},
    "paths": {
        "/api/search": {
            "get": {
                "summary": "Search the knowledge base",
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 50},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "Results",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["query", "total", "suggestion", "hits"],
                                    "properties": {
                                        "query": {"type": "string"},
                                        "total": {"type": "integer"},
                                        "suggestion": {"type": ["string", "null"]},
                                        "hits": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": [
                                                    "slug",
                                                    "title",
                                                    "url",
                                                    "summary",
                                                    "snippet",
                                                    "category",
                                                    "score",
                                                ],
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/api/triage": {
            "post": {
                "summary": "Rank request types for a description, with coverage",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "text": {"type": "string"},
                                    "plan": {"type": "string"},
                                    "version": {"type": "string"},
                                    "role": {"type": "string"},
                                    "at": {"type": "string", "format": "date-time"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Triage",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["request_types", "articles", "first_response_due"],
                                    "properties": {
                                        "request_types": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["id", "title", "score", "coverage"],
                                                "properties": {"coverage": _COVERAGE},
                                            },
                                        },
                                        "articles": {"type": "array"},
                                        "first_response_due": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        },
                    },
                },
            }
        },
        "/api/requests": {
            "post": {
                "summary": "Submit a request for verification (same answer for any sender)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "text": {"type": "string"},
                                    "request_type": {"type": "string"},
                                    "account": {"type": "string"},
                                    "email": {"type": "string"},
                                    "plan": {"type": "string"},
                                    "role": {"type": "string"},
                                    "version": {"type": "string"},
                                    "tz": {"type": "string"},
                                    "priority": {"type": "string"},
                                    "accept_charges": {"type": "boolean"},
                                    "emergency": {"type": "boolean"},
                                    "details": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted for verification",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["message"],
                                    "properties": {"message": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "Not JSON",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "415": {
                        "description": "Not JSON",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "429": {
                        "description": "Throttled",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
        },
    },
}


# every operation may answer these
for _path in SPEC["paths"].values():
    for _operation in _path.values():
        for _code, _text in (
            ("405", "Method not allowed"),
            ("413", "Too large"),
            ("422", "Invalid input"),
        ):
            _operation["responses"].setdefault(
                _code, {"description": _text, "content": {"application/json": {"schema": _ERROR}}}
            )


async def openapi(request: Request) -> Response:
    return JSONResponse(SPEC)
