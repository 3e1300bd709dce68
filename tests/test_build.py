"""portal build: complete static site, incremental rebuilds, atomic swaps."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kb import layout
from kb.build import DEFAULT_TEMPLATES, BuildOptions, build
from tests.support.content import article, write_tree


def options(
    content_dir: Path,
    out: Path,
    *,
    clean: bool = False,
    include_drafts: bool = False,
    templates_dir: Path = DEFAULT_TEMPLATES,
) -> BuildOptions:
    return BuildOptions(
        content_dir=content_dir,
        out_dir=out,
        use_git_dates=False,
        clean=clean,
        include_drafts=include_drafts,
        templates_dir=templates_dir,
    )


@pytest.fixture
def built(tree: Path, tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "out"
    build(options(tree, out))
    return tree, out


def site(out: Path) -> Path:
    path = layout.site_dir(out)
    assert path is not None
    return path


def test_full_build_writes_a_complete_site(built: tuple[Path, Path]) -> None:
    _, out = built
    s = site(out)
    for rel in [
        "index.html",
        "articles/reset-password.html",
        "articles/mail-setup.html",
        "articles/old-password.html",
        "categories/help.html",
        "categories/mail.html",
        "tags/password.html",
        "tags/mail.html",
        "sitemap.xml",
        "404.html",
        "static/css/site.css",
        "static/vendor/htmx-4.0.1/htmx.min.js",
    ]:
        assert (s / rel).is_file(), rel
    page = (s / "articles/reset-password.html").read_text()
    assert "<h1>Reset your password</h1>" in page
    assert "How to reset a forgotten password." in page
    assert 'href="../categories/help.html"' in page  # breadcrumbs, relative
    assert 'href="mail-setup.html"' in page  # .md link resolved
    assert "Related articles" in page
    assert 'href="../static/css/site.css"' in page
    # every link in the site is relative: deployable on any static host
    # (404.html is served at any depth, so it alone uses site-absolute links)
    for html in s.rglob("*.html"):
        if html.name == "404.html":
            continue
        text = html.read_text()
        assert not re.search(r'(href|src)="/(?!/)', text.replace('href="/search', "")), html
    redirect = (s / "articles/old-password.html").read_text()
    assert 'url=reset-password.html"' in redirect
    sitemap = (s / "sitemap.xml").read_text()
    assert "<loc>http://127.0.0.1:8000/articles/mail-setup.html</loc>" in sitemap
    manifest = layout.read_manifest(site(out).parent)
    assert manifest["aliases"] == {"old-password": "reset-password"}


def test_incremental_build_redoes_only_what_changed(built: tuple[Path, Path]) -> None:
    tree, out = built
    s = site(out)
    untouched = s / "articles/mail-setup.html"
    before = untouched.stat().st_ino
    report = build(options(tree, out))
    assert (report.rendered, report.indexed, report.full) == (0, 0, False)

    path = tree / "articles/help/reset-password.md"
    path.write_text(path.read_text().replace("Use the reset link.", "Use the new reset link."))
    report = build(options(tree, out))
    assert report.rendered == 1
    assert report.indexed == 1
    s = site(out)
    assert "Use the new reset link." in (s / "articles/reset-password.html").read_text()
    # the unchanged article page is the same file (hard link), not rewritten
    assert (s / "articles/mail-setup.html").stat().st_ino == before


def test_title_change_updates_listings_that_show_it(built: tuple[Path, Path]) -> None:
    tree, out = built
    path = tree / "articles/mail/mail-setup.md"
    path.write_text(path.read_text().replace("Set up your mailbox", "Configure your mailbox"))
    report = build(options(tree, out))
    s = site(out)
    # the edited page, and the page that lists it as related; one index document
    assert (report.rendered, report.indexed) == (2, 1)
    assert "Configure your mailbox" in (s / "index.html").read_text()
    assert "Configure your mailbox" in (s / "categories/mail.html").read_text()
    assert "Configure your mailbox" in (s / "tags/mail.html").read_text()
    # reset-password lists mail-setup as related: its page shows the new title too
    assert "Configure your mailbox" in (s / "articles/reset-password.html").read_text()


def test_removed_and_added_articles(built: tuple[Path, Path]) -> None:
    tree, out = built
    (tree / "articles/mail/mail-setup.md").unlink()
    write_tree(tree, {"articles/mail/spam.md": article("Spam filter", "Tune the spam filter.")})
    report = build(options(tree, out))
    s = site(out)
    assert not (s / "articles/mail-setup.html").exists()
    assert (s / "articles/spam.html").is_file()
    assert report.index_removed == 1
    assert "mail-setup" not in (s / "sitemap.xml").read_text()


def test_drafts_are_left_out_unless_asked(tree: Path, tmp_path: Path) -> None:
    write_tree(tree, {"articles/help/wip.md": article("Work in progress", "Soon.", draft="true")})
    out = tmp_path / "o"
    report = build(options(tree, out))
    assert report.drafts_skipped == 1
    assert not (site(out) / "articles/wip.html").exists()
    assert "wip" not in (site(out) / "sitemap.xml").read_text()
    preview = tmp_path / "p"
    build(options(tree, preview, include_drafts=True))
    page = (site(preview) / "articles/wip.html").read_text()
    assert "Draft — not published" in page


def test_builds_are_atomic_generations(built: tuple[Path, Path]) -> None:
    tree, out = built
    first = layout.current_generation(out)
    assert first is not None
    held = (first / "site/articles/reset-password.html").open()  # a reader mid-way
    path = tree / "articles/help/reset-password.md"
    path.write_text(path.read_text() + "\nMore.\n")
    build(options(tree, out))
    second = layout.current_generation(out)
    assert second != first
    assert os.path.islink(out / "current")
    # the old generation is untouched and still complete for readers that hold it
    assert "More." not in held.read()
    held.close()
    assert (first / "site/index.html").is_file()
    assert second is not None
    assert "More." in (second / "site/articles/reset-password.html").read_text()


def test_failed_build_leaves_current_generation(built: tuple[Path, Path], tmp_path: Path) -> None:
    tree, out = built
    before = layout.current_generation(out)
    bad_templates = tmp_path / "templates"
    write_tree(bad_templates, {"base.html": "{% block content %}"})  # syntax error
    with pytest.raises(Exception):  # noqa: B017 - any template error
        build(options(tree, out, templates_dir=bad_templates))
    assert layout.current_generation(out) == before
    assert before is not None
    assert [p.name for p in out.glob("gen-*")] == [before.name]


def test_clean_build_starts_over(built: tuple[Path, Path]) -> None:
    tree, out = built
    report = build(options(tree, out, clean=True))
    assert report.full and report.rendered == 2


def test_markdown_xss_does_not_reach_built_pages(tree: Path, tmp_path: Path) -> None:
    write_tree(
        tree,
        {
            "articles/help/evil.md": article(
                "<script>alert('t')</script>",
                "<img src=x onerror=alert(1)>",
                "<script>alert(1)</script>\n\n[x](javascript:alert(1))",
            )
        },
    )
    out = tmp_path / "o"
    build(options(tree, out))
    for html in site(out).rglob("*.html"):
        text = html.read_text()
        assert "<script>alert" not in text, html
        assert "<img src=x" not in text, html
        assert 'href="javascript:' not in text, html


@pytest.mark.parametrize("module", ["kb.build", "kb.moved_away_in_a_later_version"])
def test_a_cache_whose_class_moved_means_a_full_rebuild(
    built: tuple[Path, Path], module: str
) -> None:
    # the state pickled by an older version names a class that is no longer there:
    # kb.build._State (before kb/build.py became a package), or a module that is gone
    tree, out = built
    (out / layout.CACHE / "state.pickle").write_bytes(f"c{module}\n_State\n)\x81.".encode())
    report = build(options(tree, out))
    assert report.full and report.rendered == 2
    assert "Use the reset link." in (site(out) / "articles/reset-password.html").read_text()
