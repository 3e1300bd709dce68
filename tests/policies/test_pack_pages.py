"""/plans and /coverage of every example pack show only the amounts and durations
that pack's source states (#12): the pages are built from kb.policy.pages, and
tests/policies/test_pack_facts.py's extraction finds any number they would invent."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

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
