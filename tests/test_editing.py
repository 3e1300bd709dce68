"""Content editors' workflow: new articles, drafts, stale checks, the generated reference."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from click.testing import CliRunner

from kb import layout
from kb.scaffold import REFERENCE_END, REFERENCE_START, front_matter_reference, new_article
from kb.search import Searcher
from portal.cli import main
from portal.config import Settings
from portal.kb.building import build_options
from tests.support.content import article, write_tree
from tests.support.paths import CONTENT, ROOT


def copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_portal_new_passes_check_and_stays_a_draft(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["new", "Restore a deleted mailbox", "--category", "hosting", "--content", str(content)],
    )
    assert result.exit_code == 0, result.output
    path = content / "articles/hosting/restore-a-deleted-mailbox.md"
    assert f"created {path}" in result.output
    assert "articles/restore-a-deleted-mailbox.html" in result.output
    check = runner.invoke(main, ["check", "--content", str(content)])
    assert check.exit_code == 0, check.output
    again = runner.invoke(
        main,
        ["new", "Restore a deleted mailbox", "--category", "hosting", "--content", str(content)],
    )
    assert again.exit_code == 1 and "exists" in again.output


def test_new_category_gets_its_metadata(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    _path, slug = new_article(content, "Über Sicherheit!", "security", today=dt.date(2026, 1, 1))
    assert slug == "uber-sicherheit"
    assert (content / "articles/security/_category.yaml").is_file()
    result = CliRunner().invoke(main, ["check", "--content", str(content)])
    assert result.exit_code == 0, result.output


def test_drafts_are_invisible_in_the_public_build_and_search(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    write_tree(
        content,
        {
            "articles/hosting/quokka-hosting.md": article(
                "Quokka hosting", "Hosting for quokkas.", draft="true", keywords="[quokka]"
            )
        },
    )
    public = Settings.from_env(content_dir=content, build_dir=tmp_path / "public")
    from kb.build import build

    build(build_options(public))
    site = layout.site_dir(public.build_dir)
    assert site is not None
    assert not (site / "articles/quokka-hosting.html").exists()
    assert "quokka" not in (site / "sitemap.xml").read_text()
    assert "Quokka" not in (site / "categories/hosting.html").read_text()
    searcher = Searcher(lambda: layout.index_dir(public.build_dir))
    assert "quokka-hosting" not in [h.slug for h in searcher.search("quokka hosting").hits]
    preview = Settings.from_env(content_dir=content, build_dir=tmp_path / "preview")
    build(build_options(preview, include_drafts=True, preview=True))
    preview_site = layout.site_dir(preview.build_dir)
    assert preview_site is not None
    page = (preview_site / "articles/quokka-hosting.html").read_text()
    assert "Draft — not published" in page
    assert "static/js/preview.js" in page


def test_check_stale(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    write_tree(
        content,
        {"articles/hosting/old-news.md": article("Old news", "Very old.", updated="2019-05-01")},
    )
    result = CliRunner().invoke(main, ["check", "--content", str(content), "--stale"])
    assert result.exit_code == 1
    assert "old-news.md:4: stale: last updated 2019-05-01" in result.output
    fresh = CliRunner().invoke(main, ["check", "--content", str(content)])
    assert fresh.exit_code == 0


def test_front_matter_reference_in_the_guide_matches_the_schema() -> None:
    guide = (ROOT / "docs/editing.md").read_text("utf-8")
    start, end = guide.index(REFERENCE_START), guide.index(REFERENCE_END) + len(REFERENCE_END)
    assert guide[start:end] == front_matter_reference(), (
        "docs/editing.md is out of date: paste the output of "
        "`python -c 'from kb.scaffold import front_matter_reference as f; print(f())'`"
    )
