"""Schemathesis against the JSON API's OpenAPI description (/api/openapi.json):
generated requests never cause a server error and answers match the schema."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from kb.build import build
from portal.app import create_app
from portal.config import Settings
from portal.kb.building import build_options
from tests.conftest import CONTENT

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
