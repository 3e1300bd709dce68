"""What both search engines share: the documents and results, the query analysis and
the searcher.

An engine (``whoosh_engine``, ``tantivy_engine``) only stores documents and runs a
:class:`QueryPlan`; everything that decides what a query means lives here, once:
customer text reduced to words (never a query language), stop words, synonyms, typo
corrections ("did you mean") from the KB's own vocabulary, the last word completed as
a prefix (search as you type), the proximity boost for adjacent words, snippets, and
the bounds on the work of one query (see docs/security.md, "Search cannot stall the
server").
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

SYNONYMS_FILE = "synonyms.json"
ENGINE_FILE = "engine.json"  # which engine wrote the index directory, and its schema
SCHEMA_VERSION = 4  # bump when what is indexed changes: builds then start over
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
MAX_LIMIT = 50
MAX_FUZZY_CHARS = 24
# bounds on the work of one query (see docs/security.md, "Search cannot stall the server")
MAX_CORRECTED_WORDS = 3  # unknown words per query that get typo corrections
MAX_CORRECTIONS = 1  # spellings each of those words is expanded to
MAX_PREFIX_TERMS = 32  # index terms the last word expands to as a prefix (most frequent)
MAX_PREFIX_SCAN = 4096  # index terms looked at to find those
MIN_PREFIX_CHARS = 3  # shorter last words are not completed
SEARCH_BUDGET = 0.15  # seconds per query; then the best results found so far are returned
CORRECTIONS_CACHED = 4096  # corrections remembered per opened index
WEAK_TOTAL = 3  # fewer results than this make a weak result page ("no dead ends")

# The fields a query word is looked for in, with their weights (tuned on
# bench/queries-real.tsv and ../shared/eval/search-dev.tsv).
FIELD_WEIGHTS = {"title": 4.0, "keywords": 2.5, "body": 1.0}
SYNONYM_BOOST = 0.8  # a synonym of the word, relative to the word
CORRECTION_BOOST = 0.7  # a typo correction of the word
PREFIX_BOOST = 0.5  # a completion of the last word
# adjacent query words found near each other (a phrase with a little slop), per field
PROXIMITY_SLOP = 2
PROXIMITY_WEIGHTS = {"title": 0.75, "keywords": 0.75, "body": 0.375}

# Words that say nothing about the topic: not searched, not counted, not highlighted.
# Both engines' analyzers drop them (the index never holds them).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "for",
        "from",
        "had",
        "has",
        "have",
        "hello",
        "hi",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "me",
        "my",
        "myself",
        "need",
        "not",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "please",
        "she",
        "should",
        "so",
        "than",
        "thank",
        "thanks",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "want",
        "was",
        "wasn",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "you",
        "your",
        "yours",
    ]
)

_WORD = re.compile(r"\w+", re.UNICODE)
_NON_WORD = re.compile(r"\W")


# --- documents and results ------------------------------------------------------------


@dataclass(frozen=True)
class SearchDoc:
    slug: str
    title: str
    summary: str
    body: str  # prose: what snippets are cut from
    category: str
    category_title: str
    url: str  # site-relative, e.g. "articles/<slug>.html"
    digest: str  # changes whenever anything indexed changes
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    extra: str = ""  # code blocks and table cells: searched, shown only when they match

    def keyword_text(self) -> str:
        """The customer phrasings, tags and the one-sentence summary."""
        return "\n".join((*self.keywords, " ".join(self.tags), self.summary))

    def body_text(self) -> str:
        return f"{self.body}\n{self.extra}" if self.extra else self.body

    def spell_text(self) -> str:
        """Every word as written, for typo corrections."""
        return "\n".join((self.title, *self.keywords, self.summary, self.body, self.extra))


@dataclass
class Hit:
    slug: str
    title: str
    url: str
    summary: str
    snippet: str  # safe HTML: escaped text with <mark> around matches
    category: str
    category_title: str
    score: float


@dataclass
class QueryStats:
    """What one query cost (for tests and benchmarks; deterministic for a given index)."""

    words: int = 0  # words used from the text (at most MAX_QUERY_WORDS)
    unknown: int = 0  # words the index does not know
    corrected: int = 0  # words that got typo corrections (at most MAX_CORRECTED_WORDS)
    lookups: int = 0  # fuzzy vocabulary look-ups made; the others came from the cache
    clauses: int = 0  # term, phrase and prefix queries in the final query
    timed_out: bool = False  # the time budget ran out


@dataclass
class SearchResult:
    query: str
    total: int
    suggestion: str | None
    hits: list[Hit]
    facets: dict[str, int] = field(default_factory=dict)
    page: int = 1
    pages: int = 0
    limit: int = 10
    # the time budget ran out: hits, total and facets cover the documents scored so far
    partial: bool = False
    stats: QueryStats = field(default_factory=QueryStats)
    engine: str = ""

    @property
    def weak(self) -> bool:
        """Nothing or next to nothing found, or only through a correction: the page
        then offers categories, helpful articles and "Ask us" ("no dead ends")."""
        return bool(self.query) and (self.total < WEAK_TOTAL or self.suggestion is not None)

    def as_json(self, url_prefix: str = "/") -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "suggestion": self.suggestion,
            "hits": [
                {
                    "slug": h.slug,
                    "title": h.title,
                    "url": url_prefix + h.url,
                    "summary": h.summary,
                    "snippet": h.snippet,
                    "category": h.category,
                    "score": round(h.score, 4),
                }
                for h in self.hits
            ],
        }


def result_to_dict(result: SearchResult) -> dict[str, Any]:
    return asdict(result)


# --- what an engine provides ------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    """One way a concept can match: a term, or a phrase of terms."""

    stems: tuple[str, ...]
    boost: float = 1.0


@dataclass
class Concept:
    """One query word (or a run of words that is a synonym): any of its alternatives in
    any field; ``completions`` are index terms the last word is the start of."""

    alternatives: list[Alternative]
    completions: list[str] = field(default_factory=list)


@dataclass
class QueryPlan:
    concepts: list[Concept]
    # adjacent words of the text (their stems), boosted when found near each other
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def clauses(self) -> int:
        """Term and phrase queries the plan makes: every alternative in every field, the
        completions in title and keywords, the pairs in every field."""
        fields = len(FIELD_WEIGHTS)
        count = sum(len(c.alternatives) * fields + len(c.completions) * 2 for c in self.concepts)
        return count + len(self.pairs) * len(PROXIMITY_WEIGHTS)


@dataclass
class RawHit:
    stored: dict[str, str]  # slug, title, url, summary, category, category_title, body, extra
    score: float


@dataclass
class RawResult:
    hits: list[RawHit]
    total: int
    facets: dict[str, int]
    timed_out: bool = False


class IndexSession(Protocol):
    """An opened index for the length of one query."""

    def known(self, stem: str) -> bool:
        """The stem is in some searched field of some document."""

    def completions(self, prefix: str) -> list[str]:
        """At most MAX_PREFIX_TERMS stemmed title/keyword terms that start with
        ``prefix``, the ones in the most documents, found among at most
        MAX_PREFIX_SCAN terms."""

    def run(
        self,
        plan: QueryPlan,
        *,
        limit: int,
        offset: int,
        category: str | None,
        facets: bool,
        deadline: float,
        clock: Callable[[], float],
    ) -> RawResult: ...


class OpenIndex(Protocol):
    """One index directory, opened once per generation and shared by threads."""

    doc_count: int

    def session(self) -> AbstractContextManager[IndexSession]: ...

    def spelling(self) -> Iterable[tuple[str, int]]:
        """(word, documents it is in) for every word as written in the documents."""


class Engine(Protocol):
    name: str

    def analyze(self, text: str) -> list[str]:
        """The stemmed terms of ``text`` without stop words, as the index holds them."""

    def write(self, index_dir: Path, docs: Iterable[SearchDoc], *, procs: int) -> int: ...

    def update(
        self, index_dir: Path, changed: Iterable[SearchDoc], removed: Iterable[str]
    ) -> tuple[int, int]: ...

    def digests(self, index_dir: Path) -> dict[str, str]: ...

    def readable(self, index_dir: Path) -> bool: ...

    def open(self, index_dir: Path) -> OpenIndex: ...


# --- query analysis --------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Customer text reduced to at most MAX_QUERY_WORDS lower-case words."""
    return _WORD.findall(text[:MAX_QUERY_CHARS].lower())[:MAX_QUERY_WORDS]


class Synonyms:
    """The content's synonym groups as stems. A synonym that stop words shortened
    ("not loading" is "load" to the index) stands for less than it says: its weight is
    SYNONYM_BOOST times the share of its words that are left."""

    def __init__(self, groups: list[list[str]], analyze: Callable[[str], list[str]]) -> None:
        self.by_term: dict[tuple[str, ...], list[Alternative]] = {}
        self.longest = 1
        for group in groups:
            stemmed = [(tuple(analyze(term)), len(words(term)) or 1) for term in group]
            kept = [(s, n) for s, n in stemmed if s]
            for s, _ in kept:
                alternatives = self.by_term.setdefault(s, [])
                for other, written in kept:
                    if other != s and all(a.stems != other for a in alternatives):
                        boost = SYNONYM_BOOST * min(1.0, len(other) / written)
                        alternatives.append(Alternative(other, boost))
                self.longest = max(self.longest, len(s))

    def expand(self, stems: Sequence[str]) -> list[tuple[int, int, list[Alternative]]]:
        """(start, end, alternatives) for every run of stems that is a synonym."""
        found = []
        for size in range(self.longest, 0, -1):
            for start in range(len(stems) - size + 1):
                alternatives = self.by_term.get(tuple(stems[start : start + size]))
                if alternatives:
                    found.append((start, start + size, alternatives))
        return found


class Vocabulary:
    """The KB's words as written (letters only), by length, with the number of documents
    each is in: where typo corrections come from.

    Whoosh's own corrector computed an edit distance in Python for every term (0.5–6 s
    per unknown word on 2,448 articles); this finds the words within the allowed edits
    in memory with rapidfuzz (optimal string alignment: a swap of two letters is one
    edit), in a few milliseconds. Read once per opened index, by the first search that
    needs it.
    """

    def __init__(self, terms: Iterable[tuple[str, int]]) -> None:
        by_length: dict[int, list[str]] = {}
        self.frequency: dict[str, int] = {}
        longest = MAX_FUZZY_CHARS + 2
        for term, docs in terms:
            if len(term) <= longest and term.isalpha():
                by_length.setdefault(len(term), []).append(term)
                self.frequency[term] = docs
        self._by_length = by_length

    def __contains__(self, word: str) -> bool:
        return word in self.frequency

    def correct(self, word: str) -> tuple[tuple[str, ...], bool]:
        """(corrections, clear): the KB's words closest to ``word``, at most
        MAX_CORRECTIONS, and whether the first is clearly the one meant.

        A correction is at most one edit away (two for words of eight letters or more)
        and starts with the same letter (or swaps the first two): "https" is never
        "steps" and "refund" never "round". Among the closest, the most frequent
        wins; when the runner-up is nearly as frequent, the choice is not clear and no
        "did you mean" is offered (the search still uses it).
        """
        maxdist = 2 if len(word) >= 8 else 1
        by_distance: dict[int, list[str]] = {1: [], 2: []}
        for length in range(len(word) - maxdist, len(word) + maxdist + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            found = process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=maxdist, limit=None
            )
            for term, distance, _ in found:
                if distance and _same_start(word, term):
                    by_distance[int(distance)].append(term)
        for candidates in by_distance.values():
            if candidates:
                ranked = sorted(candidates, key=lambda t: (-self.frequency[t], t))
                best = self.frequency[ranked[0]]
                runner_up = self.frequency[ranked[1]] if len(ranked) > 1 else 0
                return tuple(ranked[:MAX_CORRECTIONS]), runner_up * 2 <= best
        return (), False


def _same_start(word: str, term: str) -> bool:
    return word[0] == term[0] or (word[:2] == term[1::-1] and len(word) > 2)


# --- snippets -------------------------------------------------------------------------


SNIPPET_CHARS = 240
_LEAD = 60  # characters shown before the first match


def snippet(text: str, marks: Sequence[str], *, size: int = SNIPPET_CHARS) -> str:
    """A window of ``text`` around the query's words, escaped, with <mark>s; "" when no
    word is in it.

    Words are found by their stems as prefixes (stems are prefixes of most of the words
    they come from), in one regular-expression pass over the lower-cased text (at most
    its first SNIPPET_SCAN characters); the window is the one that shows the most
    different query words, and it starts and ends between words.
    """
    pattern = _mark_pattern(marks)
    if not text or pattern is None:
        return ""
    found = _matches(text, pattern)
    if not found:
        return ""
    keys = [text[a:b].lower()[:4] for a, b in found]
    starts = [a for a, _ in found]
    best, best_score = starts[0], -1
    inside: Counter[str] = Counter()
    end_i = 0
    for i, start in enumerate(starts):
        while end_i < len(starts) and starts[end_i] < start + size - _LEAD:
            inside[keys[end_i]] += 1
            end_i += 1
        if len(inside) > best_score:
            best, best_score = start, len(inside)
        inside[keys[i]] -= 1
        if not inside[keys[i]]:
            del inside[keys[i]]
    start = _word_start(text, max(0, best - _LEAD), best)
    end = _word_end(text, min(len(text), start + size))
    parts, last = [], start
    for a, b in found:
        if a < start or b > end:
            continue
        parts.append(escape(text[last:a]))
        parts.append(f"<mark>{escape(text[a:b])}</mark>")
        last = b
    parts.append(escape(text[last:end]))
    body = " ".join("".join(parts).split())
    return ("… " if start else "") + body + (" …" if end < len(text) else "")


SNIPPET_SCAN = 50_000  # characters of a document looked at for its snippet
_MAX_MATCHES = 200


def _matches(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of the words that start with a mark. The pattern has no ``\\b`` and
    no IGNORECASE (both slow Python's re down several times over long texts): it runs
    on the lower-cased text, and a match inside a word is skipped here."""
    scanned = text[:SNIPPET_SCAN]
    lower = scanned.lower()
    if len(lower) != len(scanned):  # lower-casing changed offsets (rare letters)
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in scanned)
    found: list[tuple[int, int]] = []
    for m in pattern.finditer(lower):
        a = m.start()
        if a and (lower[a - 1].isalnum() or lower[a - 1] == "_"):
            continue
        found.append((a, m.end()))
        if len(found) >= _MAX_MATCHES:
            break
    return found


def lead(text: str, size: int = SNIPPET_CHARS) -> str:
    """The start of ``text``, escaped, ended between words."""
    end = _word_end(text, min(len(text), size))
    return escape(" ".join(text[:end].split())) + (" …" if end < len(text) else "")


def _mark_pattern(marks: Sequence[str]) -> re.Pattern[str] | None:
    usable = sorted({m for m in marks if len(m) >= 2}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("(?:" + "|".join(re.escape(s.lower()) for s in usable) + r")\w*")


def _word_start(text: str, start: int, limit: int) -> int:
    """``start`` moved forward to the beginning of a word (not past ``limit``)."""
    if start == 0 or not text[start - 1].isalnum():
        return start
    space = text.find(" ", start, limit)
    return space + 1 if space >= 0 else limit


def _word_end(text: str, end: int) -> int:
    """``end`` moved back to the end of a word (or forward, when one word is longer)."""
    if end >= len(text) or not (text[end - 1].isalnum() and text[end].isalnum()):
        return end
    space = text.rfind(" ", 0, end)
    if space > end - 40 and space > 0:
        return space
    match = _NON_WORD.search(text, end)
    return match.start() if match else len(text)


def hit_snippet(stored: dict[str, str], marks: Sequence[str]) -> str:
    """From the prose; from code or tables only when the words are there and not in the
    prose; else the summary."""
    return (
        snippet(stored.get("body", ""), marks)
        or snippet(stored.get("extra", ""), marks)
        or escape(stored.get("summary", ""), quote=False)
    )


# --- the searcher ------------------------------------------------------------------------


class Generation:
    """One opened index: the engine's index, synonyms, spelling vocabulary and the
    corrections already looked up. A build that swaps in a new index gets a new
    generation."""

    def __init__(self, location: Path, engine: Engine) -> None:
        self.location = location
        self.engine = engine
        self.index = engine.open(location)
        synonyms_path = location / SYNONYMS_FILE
        groups = json.loads(synonyms_path.read_text("utf-8")) if synonyms_path.exists() else []
        self.synonyms = Synonyms(groups, engine.analyze)
        self.groups: tuple[tuple[str, ...], ...] = tuple(tuple(g) for g in groups)
        self.doc_count: int = self.index.doc_count
        self._vocabulary: Vocabulary | None = None
        self._vocabulary_lock = threading.Lock()
        self._corrections: dict[str, tuple[tuple[str, ...], bool]] = {}

    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            with self._vocabulary_lock:  # read once per index, by the first that needs it
                if self._vocabulary is None:
                    self._vocabulary = Vocabulary(self.index.spelling())
        return self._vocabulary

    def corrections(self, word: str, stats: QueryStats) -> tuple[tuple[str, ...], bool]:
        """Typo corrections of ``word``, remembered for the life of this index."""
        cached = self._corrections.get(word)
        if cached is not None:
            return cached
        stats.lookups += 1
        found = self.vocabulary().correct(word)
        if len(self._corrections) >= CORRECTIONS_CACHED:
            self._corrections.clear()
        self._corrections[word] = found
        return found


@dataclass
class _Word:
    text: str
    stems: list[str]
    known: bool = True
    corrections: list[str] = field(default_factory=list)  # their stems
    completions: list[str] = field(default_factory=list)


class Searcher:
    """One open index per process, reopened when the index changes; safe to use from
    several threads at once.

    ``locate`` returns the directory of the current index; it is called at most every
    ``check_every`` seconds, so a build that swaps in a new index is picked up quickly
    without reopening anything per request. The engine is the one that wrote the index
    (its ``engine.json``). ``budget`` is the time per query (``clock`` seconds) after
    which the best results found so far are returned.
    """

    def __init__(
        self,
        locate: Callable[[], Path | None],
        *,
        check_every: float = 0.5,
        budget: float = SEARCH_BUDGET,
        clock: Callable[[], float] = time.monotonic,
        open_engine: Callable[[Path], Engine] | None = None,
    ) -> None:
        self._locate = locate
        self._check_every = check_every
        self._budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = 0.0
        self._generation: Generation | None = None
        if open_engine is None:
            from kb.search.engines import engine_for  # here: engines imports this module

            open_engine = engine_for
        self._open_engine = open_engine

    def _current(self) -> Generation | None:
        now = time.monotonic()
        if now - self._checked >= self._check_every or self._generation is None:
            with self._lock:
                self._checked = now
                location = self._locate()
                current = self._generation
                if location is not None and (current is None or location != current.location):
                    # the old generation may still serve a request in another thread; its
                    # files stay readable (the builder keeps previous generations)
                    with contextlib.suppress(OSError, ValueError):
                        self._generation = Generation(location, self._open_engine(location))
        return self._generation

    def synonym_groups(self) -> tuple[tuple[str, ...], ...]:
        """The content's synonym lines, as built into the current index."""
        current = self._current()
        return current.groups if current else ()

    @property
    def ready(self) -> bool:
        return self._current() is not None

    @property
    def engine(self) -> str:
        """The name of the engine of the current index ("" before there is one)."""
        current = self._current()
        return current.engine.name if current else ""

    def doc_count(self) -> int:
        current = self._current()
        return current.doc_count if current else 0

    def search(
        self,
        text: str,
        *,
        limit: int = 10,
        page: int = 1,
        category: str | None = None,
        snippets: bool = True,
        facets: bool = True,
    ) -> SearchResult:
        text = " ".join(text[:MAX_QUERY_CHARS].split())
        limit = max(1, min(limit, MAX_LIMIT))
        page = max(1, min(page, 1000))
        empty = SearchResult(query=text, total=0, suggestion=None, hits=[], limit=limit)
        current = self._current()
        if current is None:
            return empty
        empty.engine = current.engine.name
        deadline = self._clock() + self._budget
        with current.index.session() as session:
            analysed = self._analyse(text, current, session, deadline, empty.stats)
            if analysed is None:
                return empty
            plan, suggestion, marks = analysed
            raw = session.run(
                plan,
                limit=limit,
                offset=(page - 1) * limit,
                category=category,
                facets=facets,
                deadline=deadline,
                clock=self._clock,
            )
        empty.stats.timed_out = raw.timed_out
        hits = [
            Hit(
                slug=h.stored["slug"],
                title=h.stored["title"],
                url=h.stored["url"],
                summary=h.stored.get("summary", ""),
                snippet=hit_snippet(h.stored, marks) if snippets else "",
                category=h.stored.get("category", ""),
                category_title=h.stored.get("category_title", ""),
                score=h.score,
            )
            for h in raw.hits
        ]
        return SearchResult(
            query=text,
            total=raw.total,
            suggestion=suggestion,
            hits=hits,
            facets=dict(sorted(raw.facets.items(), key=lambda kv: (-kv[1], kv[0]))),
            page=page,
            pages=math.ceil(raw.total / limit),
            limit=limit,
            partial=raw.timed_out,
            stats=empty.stats,
            engine=current.engine.name,
        )

    def _analyse(
        self,
        text: str,
        generation: Generation,
        session: IndexSession,
        deadline: float,
        stats: QueryStats,
    ) -> tuple[QueryPlan, str | None, list[str]] | None:
        """(plan, "did you mean" text or None, the stems to highlight), or None when the
        text has no word to search for.

        One concept per word (or synonym run): the word in any field and its synonyms.
        Stop words are dropped. A word the KB does not contain is also looked for as its
        closest spellings in the KB (typo tolerance), for the first MAX_CORRECTED_WORDS
        such words, the second and later ones only within the time budget; the last
        word, when the KB does not contain it, is first completed as a prefix (the
        customer is still typing it) and corrected only when nothing starts with it.
        """
        analyze = generation.engine.analyze
        vocabulary: Vocabulary | None = None
        found: list[_Word] = []
        shown: list[str] = []
        changed, clear = False, True
        all_words = words(text)
        for i, word in enumerate(all_words):
            stats.words += 1
            stems = analyze(word)
            if not stems:  # a stop word
                shown.append(word)
                continue
            w = _Word(word, stems)
            found.append(w)
            shown.append(word)
            w.known = any(session.known(s) for s in stems)
            if w.known:
                continue
            if vocabulary is None and word.isalpha():
                vocabulary = generation.vocabulary()
            if vocabulary is not None and word in vocabulary:
                w.known = True  # as written, in a field that is not searched by stem
                continue
            stats.unknown += 1
            last = i == len(all_words) - 1
            if last and word.isalpha() and MIN_PREFIX_CHARS <= len(word) <= MAX_FUZZY_CHARS:
                w.completions = session.completions(word)
                if w.completions:
                    continue
            if (
                not (4 <= len(word) <= MAX_FUZZY_CHARS)
                or not word.isalpha()
                or stats.corrected >= MAX_CORRECTED_WORDS
                or (stats.corrected and self._clock() >= deadline)
            ):
                continue
            stats.corrected += 1
            options, is_clear = generation.corrections(word, stats)
            if options:
                shown[-1] = options[0]
                changed, clear = True, clear and is_clear
                w.corrections = [s for o in options for s in analyze(o)]
        if not found:
            return None
        flat: list[str] = [s for w in found for s in w.stems]
        concepts: list[Concept] = []
        covered: set[int] = set()
        marks: list[str] = list(flat)
        for start, end, alternatives in generation.synonyms.expand(flat):
            if covered & set(range(start, end)):
                continue
            covered.update(range(start, end))
            concept = Concept([Alternative(tuple(flat[start:end]))])
            for alt in alternatives:
                concept.alternatives.append(alt)
                if len(alt.stems) == 1:
                    marks.append(alt.stems[0])
            concepts.append(concept)
        position = 0
        for w in found:
            span = range(position, position + len(w.stems))
            position += len(w.stems)
            if covered & set(span):
                continue
            concept = Concept([Alternative((s,)) for s in w.stems])
            for fix in w.corrections:
                concept.alternatives.append(Alternative((fix,), CORRECTION_BOOST))
                marks.append(fix)
            concept.completions = w.completions
            marks += w.completions
            concepts.append(concept)
        pairs = [
            (a.stems[-1], b.stems[0])
            for a, b in itertools.pairwise(found)
            if a.known and b.known and a.stems[-1] != b.stems[0]
        ]
        plan = QueryPlan(concepts, pairs)
        stats.clauses = plan.clauses()
        suggestion = " ".join(shown) if changed and clear else None
        marks += [w.text for w in found if w.known]
        return plan, suggestion, marks
