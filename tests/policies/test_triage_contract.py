"""The JSON contract of ``portal triage --json`` and ``POST /api/triage`` (#12), field by
field, for every example pack: each ``request_types[].coverage`` has ``status``,
``rate`` (null when no rate is published, and then ``quote_required: true`` and
``estimate: null``), ``note`` (the type's note, on every status) and ``waivers``; at
the top level ``first_response_due`` is null when the plan promises no time, with
``first_response_text`` and ``support_opens_at``. The answers are checked against the
schema the OpenAPI document serves, and the CLI and the API give the same object."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.policy.answers import triage_answer
from kb.policy.engine import ACCEPT_CHARGES, ACCEPT_QUOTE, Facts
from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.policy.views import TRIAGE_RESULT
from tests.support.packs import PACKS, ROOT

STATUSES = {
    "included",
    "paid",
    "unsupported",
    "not_in_plan",
    "role_not_allowed",
    "version_unsupported",
}
# Friday noon UTC: inside most packs' hours, and a weekend follows for the rest
AT = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _policy(pack: str) -> Policy:
    policy, problems = load_policy(ROOT / "examples" / pack / "policy.yaml")
    assert policy is not None and problems == []
    return policy


def _facts(policy: Policy) -> list[Facts]:
    """Every plan, no plan, and each role and version the pack names, so that each
    status the pack can give comes out."""
    facts = [Facts(plan=p) for p in policy.plans] + [Facts(plan=None)]
    plan = next(iter(policy.plans))
    facts += [Facts(plan=plan, role=r.id) for r in policy.contacts.roles]
    if policy.versions is not None:
        facts += [Facts(plan=plan, version=v) for v in ("0.1", "999", "MOR 12")]
    return facts


def _check_coverage(policy: Policy, rt_id: str, cov: dict[str, Any]) -> None:
    rt = policy.request_types[rt_id]
    where = f"{rt_id} {cov['status']}"
    assert cov["status"] in STATUSES, where
    assert cov["note"] == (rt.note or None), f"{where}: the type's note on every status"
    waivers = cov_waiver_ids(policy, rt_id) if cov["status"] == "paid" else []
    assert [w["id"] for w in cov["waivers"]] == waivers, f"{where}: waivers to claim"
    if cov["status"] != "paid":
        assert cov["acceptance_text"] is None and cov["quote_required"] is False, where
        return
    published = rt.rate is not None and policy.rates[rt.rate].amount is not None
    if rt.fee:
        assert cov["fee"] is not None and cov["quote_required"] is False, where
    elif published:
        rate = policy.rates[rt.rate]  # type: ignore[index]
        assert cov["rate"] is not None and cov["rate"]["amount"] == str(rate.amount), where
        assert cov["acceptance_text"] == ACCEPT_CHARGES, where
    else:  # priced on request: no amount, no estimate, a quote first
        assert cov["rate"] is None and cov["fee"] is None, where
        assert cov["quote_required"] is True and cov["estimate"] is None, where
        assert cov["acceptance_text"] == ACCEPT_QUOTE, where
    if cov["rate"] is None and cov["fee"] is None:
        assert cov["quote_required"] is True and cov["estimate"] is None, where


def cov_waiver_ids(policy: Policy, rt_id: str) -> list[str]:
    rt = policy.request_types[rt_id]
    own = policy.rates[rt.rate].waived_when if rt.rate else ()
    return list(dict.fromkeys([*own, *rt.waivers]))


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_coverage_of_every_pack_keeps_the_contract(pack: str) -> None:
    policy = _policy(pack)
    validator = jsonschema_rs.validator_for(TRIAGE_RESULT)
    seen: set[str] = set()
    for facts in _facts(policy):
        for rt_id in policy.request_types:
            answer = triage_answer(policy, [(rt_id, 1.0)], facts, AT)
            validator.validate({**answer, "articles": []})
            cov = answer["request_types"][0]["coverage"]
            _check_coverage(policy, rt_id, cov)
            seen.add(cov["status"])
            if cov["status"] in ("included", "paid"):  # the policy's words for the wait
                assert answer["first_response_text"], f"{pack} {rt_id} {facts}"
            else:  # nothing can be filed like this: no time at all
                assert answer["first_response_due"] is None, f"{pack} {rt_id} {facts}"
    assert {"included", "paid"} <= seen


def test_a_paid_service_without_a_published_rate_is_a_quote_in_hsphere() -> None:
    """hsphere's source: "For prices see the corresponding service link" — no rate."""
    policy = _policy("hsphere")
    answer = triage_answer(
        policy, [(rt, 1.0) for rt in policy.request_types], Facts(plan="regular"), AT
    )
    paid = [t for t in answer["request_types"] if t["coverage"]["status"] == "paid"]
    assert paid, "hsphere has paid services"
    for item in paid:
        cov = item["coverage"]
        assert cov["rate"] is None and cov["estimate"] is None, item["id"]
        assert cov["quote_required"] is True and cov["acceptance_text"] == ACCEPT_QUOTE


def test_the_served_document_declares_every_field_of_the_contract() -> None:
    settings = Settings.from_env(secret_key="s", allowed_hosts=("testserver",))
    document = TestClient(create_app(settings, run_outbox=False)).get("/api/openapi.json")
    reply = document.json()["paths"]["/api/triage"]["post"]["responses"]["200"]
    schema = reply["content"]["application/json"]["schema"]
    assert {"first_response_due", "first_response_text", "support_opens_at"} <= set(
        schema["required"]
    )
    top = schema["properties"]
    for field in ("first_response_due", "first_response_text", "support_opens_at"):
        assert "null" in top[field]["type"], field
    item = top["request_types"]["items"]
    cov = item["properties"]["coverage"]
    assert {"status", "rate", "quote_required", "estimate", "note", "waivers"} <= set(
        cov["required"]
    )
    assert set(cov["properties"]["status"]["enum"]) == STATUSES
    for field in ("rate", "estimate", "note"):
        assert "null" in cov["properties"][field]["type"], field
    assert cov["properties"]["waivers"]["type"] == "array"


# one phrase per pack, of a type whose answer shows the pack's particular case
PHRASES = {
    "hsphere": ("please install a custom module on my server", "regular"),
    "hsphere-reseller": ("please reboot my server", "dedicated"),
    "itpossible": ("help me debug my own php code", "standard"),
    "kolmisoft": ("the whole system is down, no calls", "free"),
}


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_the_cli_and_the_api_give_the_same_answer_in_the_served_schema(
    pack: str, tmp_path: Path
) -> None:
    content = ROOT / "examples" / pack
    settings = Settings.from_env(
        content_dir=content,
        policy_file=content / "policy.yaml",
        build_dir=tmp_path / "build",
        database_url=f"sqlite:///{tmp_path}/portal.db",
        secret_key="s",
        allowed_hosts=("testserver",),
    )
    text, plan = PHRASES[pack]
    with TestClient(create_app(settings, run_outbox=False)) as client:
        document = client.get("/api/openapi.json").json()
        reply = document["paths"]["/api/triage"]["post"]["responses"]["200"]
        validator = jsonschema_rs.validator_for(reply["content"]["application/json"]["schema"])
        served = client.post(
            "/api/triage", json={"text": text, "plan": plan, "at": AT.isoformat()}
        ).json()
    args = ["triage", text, "--plan", plan, "--at", AT.isoformat(), "--json"]
    args += ["--content", str(content), "--policy", str(content / "policy.yaml")]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "build")])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    validator.validate(served)
    assert printed == served
    policy = _policy(pack)
    for item in served["request_types"]:
        _check_coverage(policy, item["id"], item["coverage"])
