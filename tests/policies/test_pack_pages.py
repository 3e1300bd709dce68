"""/plans and /coverage of every example pack show only the amounts and durations
that pack's source states (#12): the pages are built from kb.policy.pages, and
tests/policies/test_pack_facts.py's extraction finds any number they would invent."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kb.policy import load_policy
from portal.app import create_app
from portal.config import Settings
from tests.support.packs import PACKS, ROOT, SEEDS
from tests.support.packs import numbers as _numbers


def _main(html: str) -> str:
    body = html.split("<main", 1)[-1].split("</main>", 1)[0]
    text = unescape(re.sub(r"<[^>]+>", " ", body))
    return text.replace("the next 12 months", "the year ahead")  # the portal's look-ahead


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_plans_and_coverage_pages_show_only_the_sources_numbers(pack: str, tmp_path: Path) -> None:
    source_file = SEEDS / PACKS[pack]
    if not source_file.exists():
        pytest.skip("the source documents are not present")
    source = source_file.read_text("utf-8")
    content = ROOT / "examples" / pack
    settings = Settings.from_env(
        content_dir=content,
        policy_file=content / "policy.yaml",
        build_dir=tmp_path / "build",
        secret_key="s",
        allowed_hosts=("testserver",),
    )
    with TestClient(create_app(settings)) as client:
        for path in ("/plans", "/coverage"):
            page = client.get(path)
            assert page.status_code == 200, path
            text = _main(page.text)
            assert "Handled first" not in text or "Handled first" in source
            assert "Closed on public holidays in" not in text  # dates, not the rule alone
            shown = _numbers(text)
            invented = {
                n for n in shown if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", source)
            }
            assert invented == set(), f"{pack} {path} shows numbers not in its source: {invented}"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_plans_page_shows_the_providers_own_words(pack: str, tmp_path: Path) -> None:
    """#12 "rendered nowhere": every plan's description, every offered channel's name,
    description and address, ``contacts.unlisted`` and ``support_email`` reach /plans."""
    content = ROOT / "examples" / pack
    policy, problems = load_policy(content / "policy.yaml")
    assert policy is not None and problems == []
    settings = Settings.from_env(
        content_dir=content,
        policy_file=content / "policy.yaml",
        build_dir=tmp_path / "build",
        secret_key="s",
        allowed_hosts=("testserver",),
    )
    with TestClient(create_app(settings)) as client:
        page = _flat(unescape(client.get("/plans").text))
    offered = {c for plan in policy.plans.values() for c in plan.channels}
    expected = [p.description for p in policy.plans.values()]
    for channel in policy.provider.channels:
        if channel.id in offered:
            expected += [channel.name, channel.description, channel.address]
    expected += [policy.contacts.unlisted_text, policy.provider.support_email]
    missing = [text for text in map(_flat, expected) if text and text not in page]
    assert missing == [], f"{pack} /plans leaves out {missing}"


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_make_run_starts_each_pack_as_the_readme_says(pack: str) -> None:
    """`make run CONTENT=examples/<pack>` builds, imports and serves that pack (its own
    build and database), and the README shows how."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    assert "make run CONTENT=examples/" in (ROOT / "README.md").read_text("utf-8")
    dry = subprocess.run(
        ["make", "-n", "run", f"CONTENT=examples/{pack}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    env = f"PORTAL_CONTENT_DIR=examples/{pack} PORTAL_BUILD_DIR=build/{pack} "
    env += f"PORTAL_DATABASE_URL=sqlite:///var/{pack}.db "
    portal = [line for line in dry if "/portal " in line]
    assert [line.split("/portal ", 1)[1] for line in portal] == [
        "build",
        f"accounts import examples/{pack}/accounts.yaml",
        "serve",
    ]
    assert all(line.startswith(env) for line in portal), portal
