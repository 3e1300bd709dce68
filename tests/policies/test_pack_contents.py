"""Each example pack is a content directory a provider could start from (#12, part 4):
``policy.yaml``, 8–15 articles, ``synonyms.txt`` and demo ``accounts.yaml`` that import
cleanly under that pack's policy, and ``portal check --content examples/<pack>`` passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.policy import load_policy
from portal.cli import main
from portal.db.engine import Database
from portal.directory import importer
from tests.support.packs import PACKS, ROOT


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_the_pack_is_a_complete_content_directory(pack: str, tmp_path: Path) -> None:
    content = ROOT / "examples" / pack
    for name in ("policy.yaml", "synonyms.txt", "accounts.yaml"):
        assert (content / name).is_file(), f"{pack} has no {name}"
    articles = sorted((content / "articles").rglob("*.md"))
    assert 8 <= len(articles) <= 15, f"{pack}: {len(articles)} articles"
    result = CliRunner().invoke(main, ["check", "--content", str(content)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:"), result.output
    policy, problems = load_policy(content / "policy.yaml")
    assert policy is not None and problems == []
    db = Database(f"sqlite:///{tmp_path}/portal.db")
    db.upgrade()
    try:
        report = importer.import_file(db, policy, content / "accounts.yaml")
    finally:
        db.dispose()
    assert report.errors == []
