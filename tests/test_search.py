"""Search, the same suite for both engines (whoosh and tantivy): stemming, synonyms,
typos and did-you-mean, completions while typing, snippets, stop words, facets,
pagination, drafts, incremental updates, the atomic swap, abuse."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest

from kb import layout
from kb.build import BuildOptions, BuildReport, build
from kb.search import (
    ENGINE_FILE,
    ENGINES,
    MAX_LIMIT,
    Searcher,
    SearchResult,
    closest_categories,
    engine_name,
    is_valid_index,
)
from tests.conftest import CONTENT, article, write_tree


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(tree: Path, out: Path, engine: str, **options: object) -> BuildReport:
    return build(
        BuildOptions(
            content_dir=tree,
            out_dir=out,
            use_git_dates=False,
            search_engine=engine,
            static_search=False,
            **options,  # type: ignore[arg-type]
        )
    )


def open_current(out: Path, **options: float) -> Searcher:
    return Searcher(lambda: layout.index_dir(out), **options)  # type: ignore[arg-type]


@pytest.fixture
def searcher(tree: Path, tmp_path: Path, engine: str) -> Searcher:
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
    make(tree, out, engine)
    return open_current(out)


def slugs(result: SearchResult) -> list[str]:
    return [h.slug for h in result.hits]


def test_the_index_records_its_engine(searcher: Searcher, engine: str, tmp_path: Path) -> None:
    index_dir = layout.index_dir(tmp_path / "out")
    assert index_dir is not None
    assert json.loads((index_dir / ENGINE_FILE).read_text())["engine"] == engine
    assert engine_name(index_dir) == engine
    assert is_valid_index(index_dir, engine)
    other = next(e for e in ENGINES if e != engine)
    assert not is_valid_index(index_dir, other)
    assert searcher.engine == engine
    assert searcher.search("password").engine == engine


def test_switching_engines_rebuilds_the_index(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = make(tree, out, "whoosh")
    second = make(tree, out, "tantivy")
    assert second.indexed == first.indexed == 2  # every document again, not an update
    assert open_current(out).engine == "tantivy"
    assert slugs(open_current(out).search("mailbox")) == ["mail-setup"]


def test_stemming(searcher: Searcher) -> None:
    assert slugs(searcher.search("resetting passwords"))[0] == "reset-password"
    assert slugs(searcher.search("configured mailboxes"))[0] == "mail-setup"


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
    for text in ("passw", "reset passw"):
        result = searcher.search(text)
        assert slugs(result)[0] == "reset-password", text
        assert result.suggestion is None  # a word being typed is not a typo


def test_a_full_word_is_not_expanded_as_a_prefix(searcher: Searcher) -> None:
    # "topic" is a word of the index: as the last word it is not completed as a prefix
    # ("topics", ...), so a full-word query costs what it did before completions
    result = searcher.search("topic")
    assert result.stats.clauses == 3  # the word in three fields, nothing more
    assert result.stats.unknown == 0
    assert result.total == 12


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
    third = searcher.search("mail", limit=5, page=3)
    assert len(third.hits) == 4
    assert len(set(slugs(first) + slugs(second) + slugs(third))) == 14
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


def test_no_index_yet_gives_empty_results(tmp_path: Path) -> None:
    searcher = open_current(tmp_path / "nothing")
    assert searcher.search("anything").total == 0
    assert not searcher.ready
    assert searcher.engine == ""


# --- did you mean --------------------------------------------------------------------


def test_did_you_mean_never_replaces_a_word_the_kb_contains(
    tree: Path, tmp_path: Path, engine: str
) -> None:
    write_tree(
        tree,
        {
            "articles/help/steps.md": article(
                "First steps", "Steps to take.", "Follow these steps. The round trip."
            ),
            "articles/help/refunds.md": article(
                "Money back", "Getting money back.", "Ask for a refund over https."
            ),
        },
    )
    out = tmp_path / "out"
    make(tree, out, engine)
    searcher = open_current(out)
    for word, slug in (("https", "refunds"), ("refund", "refunds"), ("steps", "steps")):
        result = searcher.search(word)
        assert result.suggestion is None, word
        assert slugs(result)[0] == slug, word
    # a real typo of a word the KB contains still gets one
    assert searcher.search("stpes").suggestion == "steps"
    assert searcher.search("refnud").suggestion == "refund"  # a swap is one edit
    assert searcher.search("rafumd").suggestion is None  # two edits in a short word


def test_no_suggestion_rather_than_a_bad_one(tree: Path, tmp_path: Path, engine: str) -> None:
    """The issue's examples on the demo knowledge base, which has neither word."""
    write_tree(
        tree,
        {
            "articles/help/steps.md": article("First steps", "Steps.", "Follow these steps."),
            "articles/help/rounding.md": article("Rounding", "Round.", "We round up each round."),
        },
    )
    out = tmp_path / "out"
    make(tree, out, engine)
    searcher = open_current(out)
    for word in ("https", "refund"):  # never "steps", never "round"
        result = searcher.search(word)
        assert result.suggestion is None, word
        assert result.total == 0, word


def test_an_unclear_correction_is_not_suggested(tree: Path, tmp_path: Path, engine: str) -> None:
    write_tree(
        tree,
        {
            f"articles/help/{word}-{n}.md": article(f"{word.title()} {n}", "x.", f"A {word}.")
            for word in ("bolt", "boat")
            for n in range(2)
        },
    )
    out = tmp_path / "out"
    make(tree, out, engine)
    result = open_current(out).search("bost")  # one edit from both, equally frequent
    assert result.suggestion is None
    assert result.total >= 2  # the search still uses the correction


def test_demo_kb_suggests_nothing_for_https_and_refund(engine: str, demo_engines: Path) -> None:
    searcher = open_current(demo_engines / engine)
    for word in ("https", "refund"):
        assert searcher.search(word).suggestion is None, word


# --- ranking, stop words and snippets ------------------------------------------------


@pytest.fixture(scope="module")
def demo_engines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo content built once per engine: <dir>/whoosh, <dir>/tantivy."""
    base = tmp_path_factory.mktemp("demo-engines")
    for name in ENGINES:
        make(CONTENT, base / name, name)
    return base


def test_my_server_is_down(engine: str, demo_engines: Path) -> None:
    result = open_current(demo_engines / engine).search("my server is down")
    found = slugs(result)
    assert found[0] == "emergency-support"
    assert found.index("emergency-support") < found.index("website-not-loading")
    for hit in result.hits:
        for stop in ("is", "my", "not"):
            assert f"<mark>{stop}</mark>" not in hit.snippet.lower(), (hit.slug, hit.snippet)
    assert result.stats.words == 4


def test_stop_words_are_neither_searched_nor_highlighted(
    tree: Path, tmp_path: Path, engine: str
) -> None:
    write_tree(tree, {"articles/help/words.md": article("Is it my turn", "Not now.", "Is my it.")})
    out = tmp_path / "out"
    make(tree, out, engine)
    searcher = open_current(out)
    assert searcher.search("is my not").total == 0
    hit = searcher.search("my turn").hits[0]
    assert "<mark>" not in hit.snippet.lower().replace("<mark>turn</mark>", "")


_TABLE = """
The plan page explains what is included.

| Plan | Phone | Email |
| --- | --- | --- |
| Basic | Included | Included |
| Pro | Included | Included |

```sh
frobnicate --all
```
"""


def test_snippets_come_from_prose_not_tables_or_code(
    tree: Path, tmp_path: Path, engine: str
) -> None:
    write_tree(tree, {"articles/help/plans.md": article("Plans", "What plans give.", _TABLE)})
    out = tmp_path / "out"
    make(tree, out, engine)
    searcher = open_current(out)
    hit = searcher.search("included").hits[0]
    assert hit.slug == "plans"
    assert "what is <mark>included</mark>" in hit.snippet
    assert "Basic" not in hit.snippet and hit.snippet.count("<mark>") == 1
    # the match is only in the code: then the code is the snippet
    code = searcher.search("frobnicate").hits[0]
    assert "<mark>frobnicate</mark> --all" in code.snippet


def test_snippets_never_cut_a_word(tree: Path, tmp_path: Path, engine: str) -> None:
    prose = (
        " ".join(f"word{i}x" for i in range(300))
        + " needle "
        + " ".join(f"tail{i}y" for i in range(300))
    )
    write_tree(tree, {"articles/help/long.md": article("Long", "Long text.", prose)})
    out = tmp_path / "out"
    make(tree, out, engine)
    hit = open_current(out).search("needle").hits[0]
    text = re.sub(r"</?mark>", "", hit.snippet).strip("… ")
    source = set(prose.split())
    assert text.split()[0] in source and text.split()[-1] in source
    assert all(w in source for w in text.split())
    assert hit.snippet.startswith("… ") and hit.snippet.endswith(" …")


# --- drafts, incremental updates, the atomic swap --------------------------------------


def test_drafts_are_not_indexed(tree: Path, tmp_path: Path, engine: str) -> None:
    write_tree(
        tree, {"articles/help/secret.md": article("Quokka plans", "Soon.", "Quokka.", draft="true")}
    )
    out = tmp_path / "out"
    make(tree, out, engine)
    assert open_current(out).search("quokka").total == 0
    make(tree, tmp_path / "preview", engine, include_drafts=True)
    assert slugs(open_current(tmp_path / "preview").search("quokka")) == ["secret"]


def test_incremental_updates(tree: Path, tmp_path: Path, engine: str) -> None:
    out = tmp_path / "out"
    make(tree, out, engine)
    searcher = open_current(out, check_every=0)
    assert searcher.search("kangaroo").total == 0
    write_tree(tree, {"articles/help/kangaroo.md": article("Kangaroo hosting", "Hops.")})
    report = make(tree, out, engine)
    assert (report.indexed, report.index_removed) == (1, 0)
    assert slugs(searcher.search("kangaroo")) == ["kangaroo"]
    write_tree(tree, {"articles/help/kangaroo.md": article("Wombat hosting", "Digs.")})
    assert make(tree, out, engine).indexed == 1
    assert searcher.search("kangaroo").total == 0
    assert slugs(searcher.search("wombat")) == ["kangaroo"]
    (tree / "articles/help/kangaroo.md").unlink()
    assert make(tree, out, engine).index_removed == 1
    assert searcher.search("wombat").total == 0
    assert searcher.doc_count() == 2


def _files(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_the_previous_generation_is_never_touched(tree: Path, tmp_path: Path, engine: str) -> None:
    """A server still reading the old index keeps its answers while a build updates the
    new one (hard-linked from it), and none of the old index's files change."""
    out = tmp_path / "out"
    make(tree, out, engine)
    old_index = layout.index_dir(out)
    assert old_index is not None
    before = _files(old_index)
    old = Searcher(lambda: old_index)
    assert slugs(old.search("mailbox")) == ["mail-setup"]
    write_tree(tree, {"articles/mail/mail-setup.md": article("Set up your calendar", "Dates.")})
    make(tree, out, engine)
    new_index = layout.index_dir(out)
    assert new_index is not None and new_index != old_index
    assert _files(old_index) == before
    assert slugs(old.search("mailbox")) == ["mail-setup"]  # the old generation answers
    fresh = Searcher(lambda: new_index)
    assert fresh.search("mailbox").total == 0
    assert slugs(fresh.search("calendar")) == ["mail-setup"]


# --- no dead ends ------------------------------------------------------------------------


def test_weak_results() -> None:
    empty = SearchResult(query="ssl certificate", total=0, suggestion=None, hits=[])
    assert empty.weak
    assert SearchResult(query="x", total=2, suggestion=None, hits=[]).weak
    assert SearchResult(query="x", total=20, suggestion="y", hits=[]).weak
    assert not SearchResult(query="x", total=20, suggestion=None, hits=[]).weak
    assert not SearchResult(query="", total=0, suggestion=None, hits=[]).weak


CATEGORIES = [
    {"slug": "getting-started", "title": "Getting started", "description": "Tickets and help."},
    {"slug": "hosting", "title": "Web hosting", "description": "Websites, email and DNS."},
    {"slug": "plans-and-billing", "title": "Plans and billing", "description": "Prices, invoices."},
]


def test_closest_categories() -> None:
    assert [c["slug"] for c in closest_categories("my invoice is wrong", CATEGORIES)] == [
        "plans-and-billing"
    ]
    # a typo still finds the category; results' categories come next
    found = closest_categories("webiste hosting", CATEGORIES, {"getting-started": 2})
    assert [c["slug"] for c in found] == ["hosting", "getting-started"]
    # nothing close: the first categories, so the page always offers somewhere to go
    assert closest_categories("zzz", CATEGORIES, limit=2) == CATEGORIES[:2]
