"""The policy in the portal: generated pages, triage API and CLI, checks, directives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from kb import layout
from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.kb.building import build_from_settings
from tests.support.content import article, write_tree
from tests.support.paths import CONTENT


@pytest.fixture
def own_content(tmp_path: Path) -> Path:
    """A private copy of the default content that a test may change."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def settings_for(content: Path, build: Path) -> Settings:
    return Settings.from_env(
        content_dir=content,
        policy_file=content / "policy.yaml",
        build_dir=build,
        secret_key="s",
        allowed_hosts=("testserver",),
    )


def test_plans_and_coverage_pages_come_from_the_policy(own_content: Path, tmp_path: Path) -> None:
    policy_file = own_content / "policy.yaml"
    text = policy_file.read_text()
    policy_file.write_text(
        text.replace(
            "EUR 300 per month for up to 4 servers", "EUR 333 per month for up to 4 servers"
        )
    )
    with TestClient(create_app(settings_for(own_content, tmp_path / "b"))) as client:
        plans = client.get("/plans")
        assert plans.status_code == 200
        assert "EUR 333 per month" in plans.text
        assert "Software Care" in plans.text and "Mon–Fri 08:00–18:00" in plans.text
        # the dates of the next 12 months, with the rule they come from
        assert "(public holidays in Germany, 24 December and 31 December)." in plans.text
        assert "Closed on public holidays" not in plans.text
        coverage = client.get("/coverage")
        assert coverage.status_code == 200
        row = coverage.text.split("Configure a firewall", 1)[1].split("</tr>", 1)[0]
        assert row.count("Not offered") == 3
        row = coverage.text.split("Activate my licence after a server move", 1)[1].split("</tr>")[0]
        assert row.count("Not in this plan") == 1 and row.count("Included") == 2


def test_triage_api(client: TestClient) -> None:
    data = client.post(
        "/api/triage",
        json={
            "text": "my php script has a bug",
            "plan": "standard",
            "at": "2026-11-20T17:30+01:00",
        },
    ).json()
    assert set(data) == {
        "request_types",
        "articles",
        "first_response_due",
        "first_response_text",
        "support_opens_at",
    }
    top = data["request_types"][0]
    assert top["id"] == "script-help"
    assert set(top) == {"id", "title", "score", "coverage"}
    cov = top["coverage"]
    assert cov["status"] == "paid"
    assert cov["rate"] == {
        "amount": "100",
        "currency": "EUR",
        "unit_minutes": 15,
        "minimum_minutes": 15,
    }
    assert cov["fee"] is None
    assert cov["quote_required"] is False
    assert cov["acceptance_text"]
    assert isinstance(cov["waivers"], list)
    assert data["articles"][0] == {
        "slug": "script-and-code-help",
        "title": data["articles"][0]["title"],
        "url": "/articles/script-and-code-help.html",
    }
    # low priority: 40 business hours from Friday 17:30: 0.5 + 10 + 10 + 10 + 9.5 -> Thursday
    assert data["first_response_due"] == "2026-11-26T17:30:00+01:00"
    assert data["first_response_text"]
    assert data["support_opens_at"] == "2026-11-20T17:30:00+01:00"  # open when filed


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 422),
        (b"[1, 2]", 422),
        (json.dumps({"text": "x", "plan": "gold"}).encode(), 422),
        (json.dumps({"text": "x", "role": "king"}).encode(), 422),
        (json.dumps({"text": 5}).encode(), 422),
        (json.dumps({"text": "x", "at": "yesterday"}).encode(), 422),
        (json.dumps({"text": "x" * 20000}).encode(), 413),
    ],
)
def test_triage_api_rejects_bad_input(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/api/triage", content=body)
    assert response.status_code == status
    assert "error" in response.json()


def test_triage_cli_json(demo_settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        [
            "triage",
            "please move my account to a new server",
            "--plan",
            "priority",
            "--role",
            "authorised",
            "--json",
            "--out",
            str(demo_settings.build_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    top = data["request_types"][0]
    assert top["id"] == "migration"
    assert top["coverage"]["status"] == "role_not_allowed"
    assert data["first_response_due"] is None  # the top request cannot be filed like this


def test_triage_cli_alternative_policy_file(tmp_path: Path, demo_settings: Settings) -> None:
    pack = Path(__file__).resolve().parent.parent / "examples" / "kolmisoft" / "policy.yaml"
    if not pack.exists():
        pytest.skip("example packs not present")
    result = CliRunner().invoke(
        main,
        [
            "triage",
            "data migration to a new server",
            "--policy",
            str(pack),
            "--json",
            "--out",
            str(demo_settings.build_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["request_types"]


def test_triage_cli_gives_the_policy_words_when_no_time_is_promised(
    demo_settings: Settings,
) -> None:
    pack = Path(__file__).resolve().parent.parent / "examples" / "hsphere" / "policy.yaml"
    if not pack.exists():
        pytest.skip("example packs not present")
    args = ["triage", "general question about my hosting", "--policy", str(pack)]
    args += ["--plan", "regular", "--at", "2026-11-20T12:00:00+00:00"]
    result = CliRunner().invoke(main, [*args, "--json", "--out", str(demo_settings.build_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["request_types"][0]["coverage"]["status"] == "included"
    assert data["first_response_due"] is None  # the Regular plan promises no time
    assert "No response time is promised" in data["first_response_text"]
    assert data["support_opens_at"] is not None
    text = CliRunner().invoke(main, [*args, "--out", str(demo_settings.build_dir)])
    assert "No response time is promised" in text.output


def test_triage_cli_rejects_unknown_plan(demo_settings: Settings) -> None:
    result = CliRunner().invoke(
        main, ["triage", "x", "--plan", "gold", "--out", str(demo_settings.build_dir)]
    )
    assert result.exit_code == 2
    assert "unknown plan 'gold'" in result.output


def test_check_reports_policy_problems_with_lines(own_content: Path) -> None:
    policy_file = own_content / "policy.yaml"
    lines = policy_file.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "calendar: office" in line)
    lines[number - 1] = lines[number - 1].replace("office", "offce")
    policy_file.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["check", "--content", str(own_content)])
    assert result.exit_code == 1
    assert f"{policy_file}:{number}: plans.0.calendar: unknown calendar 'offce'" in result.output


def test_check_reports_unknown_directives_and_request_types(own_content: Path) -> None:
    write_tree(
        own_content,
        {
            "articles/hosting/broken.md": article(
                "Broken",
                "Refers to nothing.",
                "Costs {policy}`rate.golden` per hour.",
                request_types="[teleportation]",
            )
        },
    )
    result = CliRunner().invoke(main, ["check", "--content", str(own_content)])
    assert result.exit_code == 1
    path = own_content / "articles/hosting/broken.md"
    assert f"{path}:4: unknown request type 'teleportation'" in result.output
    assert f"{path}:6: unknown policy reference 'rate.golden'" in result.output


def test_directives_render_policy_facts_into_articles(own_content: Path, tmp_path: Path) -> None:
    write_tree(
        own_content,
        {
            "articles/hosting/quoted.md": article(
                "Quoted facts",
                "Facts from the policy.",
                "Paid work costs {policy}`rate.hourly`.\n\n{policy}`plans`\n",
            )
        },
    )
    settings = settings_for(own_content, tmp_path / "b")
    build_from_settings(settings)
    site = layout.site_dir(settings.build_dir)
    assert site is not None
    page = (site / "articles/quoted.html").read_text()
    assert "Paid work costs €100.00 per hour, billed in 15-minute units" in page
    assert '<table class="policy-table">' in page and "Software Care" in page
    # a policy change rebuilds the pages that quote it, and only those
    policy_file = own_content / "policy.yaml"
    policy_file.write_text(policy_file.read_text().replace("amount: 100\n", "amount: 120\n"))
    from kb.build import build
    from portal.kb.building import build_options

    report = build(build_options(settings))
    page = (site.parent.parent / "current" / "site" / "articles/quoted.html").read_text()
    assert "€120.00 per hour" in page
    quoting = sum(
        1 for p in (own_content / "articles").rglob("*.md") if "{policy}`" in p.read_text()
    )
    assert report.rendered == quoting
