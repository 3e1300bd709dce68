"""Search: typos, synonyms, did-you-mean, safe snippets, facets, pagination, abuse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kb import layout
from kb.build import BuildOptions, build
from kb.search import MAX_LIMIT, Searcher
from tests.conftest import article, write_tree


@pytest.fixture
def searcher(tree: Path, tmp_path: Path) -> Searcher:
    write_tree(
        tree,
        {
            "articles/help/evil.md": article(
                "Odd characters", "Text with markup.", "The <script>alert(1)</script> password tag."
            ),
        }
        | {
            f"articles/mail/mail-{i}.md": article(f"Mail topic {i}", "Mail.", "mail " * (i + 1))
            for i in range(12)
        },
    )
    out = tmp_path / "out"
    build(BuildOptions(content_dir=tree, out_dir=out, use_git_dates=False))
    return Searcher(lambda: layout.index_dir(out))


def slugs(result: object) -> list[str]:
    return [h.slug for h in result.hits]  # type: ignore[attr-defined]


def test_typo_finds_the_article_and_suggests(searcher: Searcher) -> None:
    result = searcher.search("pasword")
    assert slugs(result)[0] == "reset-password"
    assert result.suggestion == "password"


def test_synonyms_expand_at_query_time(searcher: Searcher) -> None:
    assert "reset-password" in slugs(searcher.search("passwd"))
    # "mail" only appears in mail-setup's summary: found through the synonym
    assert slugs(searcher.search("configure e-mail clients"))[0] == "mail-setup"
    assert slugs(searcher.search("configure email clients"))[0] == "mail-setup"


def test_title_is_boosted(searcher: Searcher) -> None:
    assert slugs(searcher.search("mailbox"))[0] == "mail-setup"


def test_prefix_while_typing(searcher: Searcher) -> None:
    assert "reset-password" in slugs(searcher.search("reset passw"))


def test_snippets_are_escaped_and_highlighted(searcher: Searcher) -> None:
    hit = next(h for h in searcher.search("password tag").hits if h.slug == "evil")
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>password</mark>" in hit.snippet


def test_facets_and_pagination(searcher: Searcher) -> None:
    first = searcher.search("mail", limit=5)
    assert first.total == 14  # 12 "Mail topic" articles, mail-setup, reset-password
    assert first.pages == 3
    assert first.facets == {"mail": 13, "help": 1}
    second = searcher.search("mail", limit=5, page=2)
    assert not set(slugs(first)) & set(slugs(second))
    only_help = searcher.search("password", category="help")
    assert {h.category for h in only_help.hits} == {"help"}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "title:password",
        "pass* OR *",
        "((((",
        '"unclosed phrase',
        "a" * 10_000,
        " ".join(["password"] * 500),
        "NOT AND OR",
        "\x00\x01",
        "пароль",
    ],
)
def test_abusive_queries_are_bounded_and_never_fail(searcher: Searcher, query: str) -> None:
    started = time.perf_counter()
    result = searcher.search(query, limit=1000, page=10**9)
    assert result.limit <= MAX_LIMIT
    assert time.perf_counter() - started < 5  # a gross upper bound, not a benchmark


def test_searcher_follows_new_builds(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(BuildOptions(content_dir=tree, out_dir=out, use_git_dates=False))
    searcher = Searcher(lambda: layout.index_dir(out), check_every=0)
    assert searcher.search("kangaroo").total == 0
    write_tree(tree, {"articles/help/kangaroo.md": article("Kangaroo hosting", "Hops.")})
    build(BuildOptions(content_dir=tree, out_dir=out, use_git_dates=False))
    assert slugs(searcher.search("kangaroo")) == ["kangaroo"]


def test_no_index_yet_gives_empty_results(tmp_path: Path) -> None:
    searcher = Searcher(lambda: layout.index_dir(tmp_path / "nothing"))
    assert searcher.search("anything").total == 0
    assert not searcher.ready
