"""Search cannot stall the server (issue #10, item 2): the work per query is bounded
(typo corrections, prefix expansion, a time budget), the index stays compact after
incremental updates, and search, suggestions and triage run off the event loop.

Timings are not asserted here (they go to bench/adversarial.py); these tests count."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from whoosh import index

from kb import layout
from kb.build import BuildOptions, build
from kb.search import (
    ENGINES,
    MAX_CORRECTED_WORDS,
    MAX_PREFIX_TERMS,
    SearchDoc,
    Searcher,
    update_index,
    write_index,
)
from portal.app import create_app
from portal.config import Settings
from tests.conftest import CONTENT, article, free_port, write_tree

# twelve words of the index below, and each misspelled once (unknown to the index)
WORDS = ["password", "mailbox", "calendar", "attachment", "settings", "outlook"]
WORDS += ["account", "message", "printer", "network", "license", "backup"]
TYPOS = (
    "pasword mailbx calender attachmnet setings outlok acount mesage printr netwrk licence backp"
)
TWELVE_LONG = " ".join(letter * 20 for letter in "bcdfghjklmnp")  # unknown words


_CONSONANTS = "bcdfgkmnprtvwz"  # two of them end no English suffix: stems stay whole


def _letters(i: int) -> str:
    return _CONSONANTS[i // len(_CONSONANTS)] + _CONSONANTS[i % len(_CONSONANTS)]


def _build(tree: Path, out: Path, engine: str = "whoosh") -> Path:
    build(
        BuildOptions(
            content_dir=tree,
            out_dir=out,
            use_git_dates=False,
            search_engine=engine,
            static_search=False,
        )
    )
    return out


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def searcher(tree: Path, tmp_path: Path, engine: str) -> Searcher:
    write_tree(
        tree,
        {
            "articles/help/words.md": article(
                "Office words", "Every word of the typo test.", " ".join(WORDS) + "."
            ),
        }
        | {
            f"articles/mail/mail-{i}.md": article(f"Mail topic {i}", "Mail.", "mail " * (i + 1))
            for i in range(80)
        }
        | {
            # 100 title words that start with "zeta" (zetabb, zetabc, ...)
            f"articles/help/zeta-{i}.md": article(f"Zeta{_letters(i)}", "Z.")
            for i in range(100)
        },
    )
    out = _build(tree, tmp_path / "out", engine)
    return Searcher(lambda: layout.index_dir(out))


def test_typo_corrections_are_capped_per_query(searcher: Searcher) -> None:
    # every single typo is corrected on its own ...
    for typo, word in zip(TYPOS.split(), WORDS, strict=True):
        assert searcher.search(typo).suggestion == word, typo
    # ... but one query with twelve of them corrects only the first MAX_CORRECTED_WORDS
    result = searcher.search(TYPOS)
    assert result.suggestion is not None
    changed = [a for a, b in zip(TYPOS.split(), result.suggestion.split(), strict=True) if a != b]
    assert changed == TYPOS.split()[:MAX_CORRECTED_WORDS]
    assert result.stats.words == 12
    assert result.stats.unknown == 12
    assert result.stats.corrected == MAX_CORRECTED_WORDS
    assert result.total >= 1  # the first three corrections still find the article


def test_corrections_are_remembered_per_index(searcher: Searcher) -> None:
    unknown = "qwzrtplk mnbvcxzq lkjhgfds poiuytre"
    first = searcher.search(unknown)
    assert first.stats.lookups == MAX_CORRECTED_WORDS
    again = searcher.search(unknown)
    assert again.stats.lookups == 0
    assert again.stats.corrected == MAX_CORRECTED_WORDS
    assert (again.suggestion, again.total) == (first.suggestion, first.total)


def test_twelve_long_unknown_words_make_a_small_query(searcher: Searcher) -> None:
    result = searcher.search(TWELVE_LONG)
    assert result.total == 0
    assert result.stats.unknown == 12
    assert result.stats.lookups <= MAX_CORRECTED_WORDS
    # each word in three fields; the last one has no completions, and words the index
    # does not know get no proximity pairs
    assert result.stats.clauses == 12 * 3


def test_prefix_expands_to_a_bounded_number_of_terms(searcher: Searcher) -> None:
    # "zet" is the start of 100 different title words: only the most frequent count
    result = searcher.search("zet", limit=50)
    assert result.total == MAX_PREFIX_TERMS  # one article per title word
    assert all(h.slug.startswith("zeta-") for h in result.hits)
    # a prefix with few completions still finds them all
    titles = {h.title.lower() for h in searcher.search("zetab", limit=50).hits}
    assert titles >= {"zetab" + c for c in _CONSONANTS}


def test_time_budget_stops_corrections_after_the_first(tree: Path, searcher: Searcher) -> None:
    out = layout.index_dir(tree.parent / "out")
    assert out is not None
    hurried = Searcher(lambda: out, budget=0.0)
    assert hurried.search(TYPOS).stats.corrected == 1
    assert searcher.search(TYPOS).stats.corrected == MAX_CORRECTED_WORDS


@pytest.mark.parametrize("engine", ["whoosh"], indirect=True)
def test_time_budget_returns_the_best_results_so_far(tree: Path, searcher: Searcher) -> None:
    """Whoosh scores in Python and can run long: it looks at the clock after each
    posting list and stops at the deadline. (tantivy's search runs in Rust in
    milliseconds once the query is bounded, see bench/: it is not interrupted.)"""
    full = searcher.search("mail", limit=10)
    assert not full.partial
    assert full.total == 82  # 80 "Mail topic" articles, mail-setup, reset-password
    assert full.stats.clauses == 6  # "mail" and its synonym "email", in three fields
    # budget 0: the first posting list ("mail" in titles) is scored, then it stops
    out = layout.index_dir(tree.parent / "out")
    assert out is not None
    hurried = Searcher(lambda: out, budget=0.0)
    result = hurried.search("mail", limit=10)
    assert result.partial
    assert result.stats.timed_out
    assert result.total == 80  # the 80 "Mail topic" titles
    assert len(result.hits) == 10
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert sum(result.facets.values()) == 80
    # the budget also stops typo corrections after the first
    typos = hurried.search(TYPOS)
    assert typos.stats.corrected == 1


def test_category_filter_with_facets(tmp_path: Path, tree: Path, engine: str) -> None:
    """The search page filters by category with facets on: the facets still count every
    category, the hits and the total only the chosen one."""
    write_tree(
        tree,
        {
            f"articles/help/help-mail-{i}.md": article(f"Help mail {i}", "Mail help.", "mail")
            for i in range(3)
        }
        | {
            f"articles/mail/more-mail-{i}.md": article(f"More mail {i}", "Mail.", "mail")
            for i in range(5)
        },
    )
    out = _build(tree, tmp_path / "out", engine)
    searcher = Searcher(lambda: layout.index_dir(out))
    everything = searcher.search("mail", limit=50)
    result = searcher.search("mail", category="help", limit=50)
    assert {h.category for h in result.hits} == {"help"}
    assert result.total == everything.facets["help"] == 4  # and reset-password
    assert result.facets == everything.facets
    assert set(result.facets) == {"help", "mail"}


# --- the index stays compact after incremental updates ---------------------------------


def _doc(n: int, revision: int = 0) -> SearchDoc:
    return SearchDoc(
        slug=f"doc-{n}",
        title=f"Document {n}",
        summary="A document.",
        body=f"Body of document {n}, revision {revision}.",
        category="c",
        category_title="C",
        url=f"articles/doc-{n}.html",
        digest=f"{n}-{revision}",
    )


def _segments(index_dir: Path) -> int:
    ix = index.open_dir(str(index_dir))
    try:
        return len(ix._segments())
    finally:
        ix.close()


def _segment_sizes(index_dir: Path) -> dict[str, int]:
    ix = index.open_dir(str(index_dir))
    try:
        return {seg.segment_id(): seg.doc_count() for seg in ix._segments()}
    finally:
        ix.close()


def test_incremental_updates_keep_few_segments_and_leave_the_large_one(
    tmp_path: Path,
) -> None:
    index_dir = tmp_path / "index"
    write_index(index_dir, [_doc(n) for n in range(300)], [])
    (large,) = _segment_sizes(index_dir)
    counts, rewritten = [], []
    before = _segment_sizes(index_dir)
    for n in range(1, 41):  # forty one-article updates, each adding an article
        update_index(index_dir, [_doc(300 + n)], [], [])
        after = _segment_sizes(index_dir)
        assert large in after, n  # the full build's segment is never rewritten
        counts.append(len(after))
        rewritten.append(sum(docs for seg, docs in before.items() if seg not in after))
        before = after
    # small segments merge in tiers of four (4, 16, ...): at most three per tier remain
    assert max(counts) <= 1 + 3 + 3 + 1
    assert counts[-1] == 1 + 2 + 2  # 40 = 2 x 16 + 2 x 4: two tiers of two segments
    assert max(rewritten) < 64  # no update rewrites more than the small segments
    searcher = Searcher(lambda: index_dir)
    assert searcher.doc_count() == 340
    assert [h.slug for h in searcher.search("document 340").hits][:1] == ["doc-340"]


def test_tantivy_updates_keep_few_segments(tmp_path: Path) -> None:
    """tantivy merges the small segments of one-article updates (its log merge policy,
    waited for at the end of each update), so a long run of edits stays compact."""
    import tantivy

    index_dir = tmp_path / "index"
    write_index(index_dir, [_doc(n) for n in range(300)], [], engine="tantivy")
    counts = []
    for n in range(1, 41):
        update_index(index_dir, [_doc(300 + n)], [], [])
        counts.append(tantivy.Index.open(str(index_dir)).searcher().num_segments)
    assert max(counts) <= 10, counts
    searcher = Searcher(lambda: index_dir)
    assert searcher.doc_count() == 340
    assert [h.slug for h in searcher.search("document 340").hits][:1] == ["doc-340"]


def test_replaced_documents_are_found_once(tmp_path: Path, engine: str) -> None:
    index_dir = tmp_path / "index"
    write_index(index_dir, [_doc(n) for n in range(20)], [], engine=engine)
    for revision in range(1, 15):
        update_index(index_dir, [_doc(revision % 20, revision)], [], [])
    searcher = Searcher(lambda: index_dir)
    assert searcher.doc_count() == 20
    assert [h.slug for h in searcher.search("revision 14").hits][:1] == ["doc-14"]
    every = [h.slug for h in searcher.search("document", limit=50).hits]
    assert sorted(every) == sorted(f"doc-{n}" for n in range(20))  # each once


# --- off the event loop: a real uvicorn, with searches held in a worker thread ---------


class _Server:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        for _ in range(300):  # bounded: the server answers within a few seconds
            if self.server.started:
                return self
            self.thread.join(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    )


@pytest.fixture
def served(demo_build: Path, tmp_path: Path) -> Iterator[tuple[_Server, Any]]:
    settings = Settings.from_env(
        database_url=f"sqlite:///{tmp_path}/portal.db",
        upload_dir=tmp_path / "uploads",
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        secret_key="test-secret",
        allowed_hosts=("127.0.0.1",),
    )
    app = create_app(settings, run_outbox=False)
    with _Server(app) as server:
        yield server, app


def _spy(
    app: Any, monkeypatch: pytest.MonkeyPatch, hold: threading.Event | None = None
) -> tuple[list[int], threading.Event]:
    """Record the thread of every search and synonym look-up; searches wait for
    ``hold`` when given (bounded)."""
    searcher = app.state.kb.searcher
    threads: list[int] = []
    started = threading.Event()
    search, groups = searcher.search, searcher.synonym_groups

    def spy_search(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        started.set()
        if hold is not None:
            hold.wait(60)
        return search(*args, **kwargs)

    def spy_groups() -> Any:
        threads.append(threading.get_ident())
        return groups()

    monkeypatch.setattr(searcher, "search", spy_search)
    monkeypatch.setattr(searcher, "synonym_groups", spy_groups)
    return threads, started


def test_healthz_answers_while_a_search_runs(
    served: tuple[_Server, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, app = served
    hold = threading.Event()
    threads, started = _spy(app, monkeypatch, hold)
    answers: list[int] = []

    def slow_search() -> None:
        with _opener().open(server.url + "/api/search?q=password", timeout=120) as r:
            answers.append(r.status)

    client = threading.Thread(target=slow_search)
    client.start()
    try:
        assert started.wait(60), "the search did not start"
        # the search is still held; on the event loop it would hold every request
        with _opener().open(server.url + "/healthz", timeout=30) as r:
            assert r.status == 200
        assert not answers
    finally:
        hold.set()
        client.join(120)
    assert answers == [200]
    assert threads and server.thread.ident not in threads


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.mark.parametrize("endpoint", ["search page", "search api", "triage", "suggest"])
def test_search_suggest_and_triage_run_in_worker_threads(
    served: tuple[_Server, Any], monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    server, app = served
    threads, _ = _spy(app, monkeypatch)
    opener = _opener()
    text = "my mailbox does not receive mail"
    request: urllib.request.Request
    if endpoint == "search page":
        request = urllib.request.Request(server.url + "/search?q=" + urllib.parse.quote(text))
    elif endpoint == "search api":
        request = urllib.request.Request(server.url + "/api/search?q=" + urllib.parse.quote(text))
    elif endpoint == "triage":
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(
            server.url + "/api/triage", body, {"Content-Type": "application/json"}
        )
    else:
        with opener.open(server.url + "/request", timeout=30) as r:
            match = CSRF.search(r.read().decode())
        assert match
        form = urllib.parse.urlencode({"csrf_token": match.group(1), "text": text}).encode()
        request = urllib.request.Request(
            server.url + "/request/suggest", form, {"HX-Request": "true"}
        )
    with opener.open(request, timeout=60) as r:
        assert r.status == 200
        page = r.read().decode()
    assert "mail" in page.lower()
    # the search, and for request-type suggestions the synonyms too
    assert len(threads) >= (2 if endpoint in ("triage", "suggest") else 1), threads
    assert server.thread.ident not in threads
