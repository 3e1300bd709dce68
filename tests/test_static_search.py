"""The static site's own search (Pagefind bundles + search.html) and the "no dead ends"
links of the built pages. The browser half is tests/browser/test_static_search_browser.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb import layout
from kb.build import BuildOptions, BuildReport, build, static_search
from tests.conftest import article, write_tree


def make(tree: Path, out: Path, **options: object) -> BuildReport:
    return build(
        BuildOptions(content_dir=tree, out_dir=out, use_git_dates=False, **options)  # type: ignore[arg-type]
    )


def site(out: Path) -> Path:
    found = layout.site_dir(out)
    assert found is not None
    return found


def bundles(out: Path) -> list[str]:
    data = json.loads((site(out) / "pagefind" / "bundles.json").read_text())
    return list(data["bundles"])


def test_shards_grow_with_the_site() -> None:
    assert static_search.shard_count(1) == 1
    assert static_search.shard_count(static_search.SHARD_PAGES) == 1
    assert static_search.shard_count(2_448) == 16
    assert static_search.shard_count(10_000) == 64
    assert static_search.shard_count(10**6) == static_search.MAX_SHARDS
    assert static_search.shard_of("reset-password", 16) == static_search.shard_of(
        "reset-password", 16
    )


def test_build_writes_search_html_and_a_pagefind_bundle(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = make(tree, out)
    assert report.static_search_shards == 1
    assert bundles(out) == ["s00"]
    bundle = site(out) / "pagefind" / "s00"
    assert (bundle / "pagefind.js").is_file()
    assert (bundle / "pagefind-entry.json").is_file()
    assert not list(bundle.glob("pagefind-ui*"))  # Pagefind's own UIs are not shipped
    page = (site(out) / "search.html").read_text()
    assert 'id="static-search-page"' in page
    assert "static/js/static-search.js" in page
    assert 'action="search"' in page  # without JavaScript: the portal's /search
    assert (site(out) / "static" / "js" / "static-search.js").is_file()
    # every page's search box knows about it; the article body is what is indexed
    article_page = (site(out) / "articles" / "reset-password.html").read_text()
    assert "data-static-search" in article_page
    assert "data-pagefind-body" in article_page
    assert 'href="../search.html"' in article_page


def test_only_the_changed_shard_is_indexed_again(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static_search, "SHARD_PAGES", 2)  # 12 articles: 8 shards at most
    write_tree(
        tree,
        {
            f"articles/help/topic-{i}.md": article(f"Topic {i}", "A topic.", f"Text {i}.")
            for i in range(10)
        },
    )
    out = tmp_path / "out"
    first = make(tree, out)
    names = bundles(out)
    assert first.static_search_shards == len(names) >= 4
    assert len(names) == len(
        set(static_search.shard_of(f"topic-{i}", 8) for i in range(10))
        | {static_search.shard_of("reset-password", 8), static_search.shard_of("mail-setup", 8)}
    )
    entries = {n: os.stat(site(out) / "pagefind" / n / "pagefind-entry.json") for n in names}
    write_tree(tree, {"articles/help/topic-3.md": article("Topic 3", "A topic.", "New text.")})
    second = make(tree, out)
    assert second.static_search_shards == 1
    changed = static_search.shard_of("topic-3", 8)
    for name in names:
        st = os.stat(site(out) / "pagefind" / name / "pagefind-entry.json")
        same = st.st_ino == entries[name].st_ino  # a hard link into the previous generation
        assert same == (name != changed), name
    assert make(tree, out).static_search_shards == 0  # nothing changed


def test_static_search_can_be_turned_off(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    make(tree, out)
    report = make(tree, out, static_search=False)
    assert report.static_search_shards == 0
    assert not (site(out) / "pagefind").exists()
    assert not (site(out) / "search.html").exists()
    page = (site(out) / "articles" / "reset-password.html").read_text()
    assert "data-static-search" not in page
    assert 'href="../search"' in page


def test_preview_builds_have_no_static_search(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    make(tree, out, preview=True)
    assert not (site(out) / "pagefind").exists()


def test_every_article_ends_with_a_way_to_ask(tree: Path, tmp_path: Path) -> None:
    write_tree(
        tree,
        {
            "articles/help/server-down.md": article(
                "Server down", "It is down.", "Check it.", request_types="[server-down, web-down]"
            )
        },
    )
    out = tmp_path / "out"
    make(tree, out)
    page = (site(out) / "articles" / "server-down.html").read_text()
    assert "Didn&#39;t solve it?" in page or "Didn't solve it?" in page
    assert 'href="../request?article=server-down&amp;types=server-down%2Cweb-down"' in page
    plain = (site(out) / "articles" / "reset-password.html").read_text()
    assert 'href="../request?article=reset-password"' in plain
    manifest = layout.read_manifest(site(out).parent)
    assert "popular" in manifest
