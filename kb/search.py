"""Full-text search over the knowledge base.

Every use of Whoosh lives in this module, so the engine can be swapped without
touching the builder or the portal. The index is written by :func:`write_index`
(full) or :func:`update_index` (incremental) into a directory the builder swaps in
atomically; :class:`Searcher` keeps one open searcher per process and reopens it
only when the current index directory changes.

Queries are never parsed with Whoosh's query language: customer text is reduced to
words, so field syntax, wildcards and very long input cannot make a query expensive.
The work per query is bounded as well: at most MAX_CORRECTED_WORDS words get typo
corrections (looked up in an in-memory vocabulary, remembered per opened index), the
last word's prefix expands to at most MAX_PREFIX_TERMS terms, and after the time
budget the best results found so far are returned (``SearchResult.partial``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA
from whoosh import collectors, index, matching, query, scoring, sorting
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.reading import SegmentReader

SYNONYMS_FILE = "synonyms.json"
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
MAX_LIMIT = 50
MAX_FUZZY_CHARS = 24
# bounds on the work of one query (see docs/security.md, "Search cannot stall the server")
MAX_CORRECTED_WORDS = 3  # unknown words per query that get typo corrections
MAX_CORRECTIONS = 1  # spellings each of those words is expanded to
MAX_PREFIX_TERMS = 32  # index terms the last word expands to as a prefix (most frequent)
MAX_PREFIX_SCAN = 4096  # index terms looked at to find those
SEARCH_BUDGET = 0.15  # seconds per query; then the best results found so far are returned
CORRECTIONS_CACHED = 4096  # corrections remembered per opened index
_CHECK_EVERY = 32  # documents collected between two looks at the clock
_PART_DOCS = 256  # documents an OR scores ahead (Whoosh: 2,048, a whole small segment)
_IDLE_SEARCHERS = 8  # open Whoosh searchers kept per index for reuse
_WORD = re.compile(r"\w+", re.UNICODE)

_ANALYZER = StemmingAnalyzer()
# words as written (no stemming, no stop words), for "did you mean" corrections
_SPELL_ANALYZER = RegexTokenizer() | LowercaseFilter()
# three matching fields: fewer posting lists per query word means faster queries
_FIELDS_BOOSTS = {"title": 4.0, "keywords": 2.5, "body": 1.0}


# Incremental updates (merge_small_segments): segments of similar size merge in tiers
# of MERGE_FACTOR, so a one-article update rewrites a few documents on average and the
# full build's segments (each over LARGE_SEGMENT of the documents) are never rewritten.
MERGE_FACTOR = 4
LARGE_SEGMENT = 0.1
MAX_SEGMENTS = 24  # past this many, everything is merged once
SCHEMA_VERSION = 3  # bump when the fields below change: builds then start over


def _schema() -> Schema:
    return Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=_ANALYZER, stored=True, field_boost=_FIELDS_BOOSTS["title"]),
        # the customer phrasings, tags and the one-sentence summary
        keywords=TEXT(analyzer=_ANALYZER, field_boost=_FIELDS_BOOSTS["keywords"]),
        body=TEXT(analyzer=_ANALYZER, stored=True),
        spell=TEXT(analyzer=_SPELL_ANALYZER, phrase=False),
        summary=STORED(),
        category=ID(stored=True),
        category_title=STORED(),
        url=STORED(),
        digest=STORED(),
    )


@dataclass(frozen=True)
class SearchDoc:
    slug: str
    title: str
    summary: str
    body: str
    category: str
    category_title: str
    url: str  # site-relative, e.g. "articles/<slug>/"
    digest: str  # changes whenever anything indexed changes
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "keywords": "\n".join((*self.keywords, " ".join(self.tags), self.summary)),
            "summary": self.summary,
            "body": self.body,
            "spell": "\n".join((self.title, *self.keywords, self.summary, self.body)),
            "category": self.category,
            "category_title": self.category_title,
            "url": self.url,
            "digest": self.digest,
        }


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


# --- writing -----------------------------------------------------------------------


def _write_synonyms(index_dir: Path, synonyms: list[list[str]]) -> None:
    tmp = index_dir / (SYNONYMS_FILE + ".tmp")
    tmp.write_text(json.dumps(synonyms), "utf-8")
    os.replace(tmp, index_dir / SYNONYMS_FILE)


def write_index(
    index_dir: Path, docs: Iterable[SearchDoc], synonyms: list[list[str]], *, procs: int = 1
) -> int:
    """Create a new index in ``index_dir`` (which must be empty or missing)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(index_dir), _schema())
    options: dict[str, Any] = {"limitmb": 256}
    if procs > 1:
        options.update(procs=procs, multisegment=True)
    writer = ix.writer(**options)
    count = 0
    for doc in docs:
        writer.add_document(**doc.fields())
        count += 1
    writer.commit()
    ix.close()
    _write_synonyms(index_dir, synonyms)
    return count


def indexed_digests(index_dir: Path) -> dict[str, str]:
    """slug -> digest of every document in the index."""
    ix = index.open_dir(str(index_dir))
    try:
        with ix.searcher() as s:
            return {f["slug"]: f["digest"] for f in s.all_stored_fields()}
    finally:
        ix.close()


def update_index(
    index_dir: Path,
    changed: Iterable[SearchDoc],
    removed: Iterable[str],
    synonyms: list[list[str]],
) -> tuple[int, int]:
    """Replace changed documents and delete removed slugs in an existing index."""
    ix = index.open_dir(str(index_dir))
    writer = ix.writer(limitmb=128)
    updated = deleted = 0
    try:
        for slug in removed:
            writer.delete_by_term("slug", slug)
            deleted += 1
        for doc in changed:
            writer.update_document(**doc.fields())
            updated += 1
    except BaseException:
        writer.cancel()
        raise
    writer.commit(mergetype=merge_small_segments)
    ix.close()
    _write_synonyms(index_dir, synonyms)
    return updated, deleted


def _tier(docs: int) -> int:
    tier = 0
    while docs >= MERGE_FACTOR:
        docs //= MERGE_FACTOR
        tier += 1
    return tier


def merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy for incremental updates: merges some segments into the one
    being written and returns the ones kept as they are.

    Each update writes a new segment. Segments smaller than LARGE_SEGMENT of the live
    documents are sorted into tiers by size (1–3, 4–15, 16–63, … documents); the new
    segment counts in the first, and a tier that fills up to MERGE_FACTOR segments is
    merged, together with the tiers below it. So a one-article update rewrites about
    log4(n) documents on average (a 4-document merge every 4th update, 16 every 16th,
    …), at most 3 segments per tier remain, and the full build's large segments are
    never rewritten. Merging costs about 6 ms per real article (bench: 250 articles
    merged on every update made a one-article update take 1.5 s).
    """
    live = sum(s.doc_count() for s in segments)
    large = max(MERGE_FACTOR, LARGE_SEGMENT * live)
    small = [s for s in segments if s.doc_count() < large]
    keep = [s for s in segments if s.doc_count() >= large]
    per_tier = Counter(_tier(s.doc_count()) for s in small)
    full = 0  # tiers below this one are merged
    while per_tier[full] + 1 >= MERGE_FACTOR:  # + 1: the new segment, or the merged one
        full += 1
    merge = [s for s in small if _tier(s.doc_count()) < full]
    keep += [s for s in small if _tier(s.doc_count()) >= full]
    if len(keep) + 1 > MAX_SEGMENTS:
        merge, keep = list(segments), []
    for segment in merge:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return keep


def is_valid_index(index_dir: Path) -> bool:
    """True when ``index_dir`` holds an index that opens and can be read."""
    try:
        if not index.exists_in(str(index_dir)):
            return False
        ix = index.open_dir(str(index_dir))
        try:
            if set(ix.schema.names()) != set(_schema().names()):
                return False  # written by an older version of this module
            with ix.searcher() as s:
                s.doc_count()
                for _ in zip(range(3), s.all_stored_fields(), strict=False):
                    pass
        finally:
            ix.close()
        return (index_dir / SYNONYMS_FILE).is_file()
    except Exception:
        return False


# --- querying ----------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Customer text reduced to at most MAX_QUERY_WORDS lower-case words."""
    return _WORD.findall(text[:MAX_QUERY_CHARS].lower())[:MAX_QUERY_WORDS]


def _stems(text: str) -> list[str]:
    return [t.text for t in _ANALYZER(text)]


def stems(text: str) -> list[str]:
    """The stemmed, stop-word-free terms of ``text``, exactly as the index sees them."""
    return _stems(text[:MAX_QUERY_CHARS])


_SNIPPET_CHARS = 240


def snippet(text: str, stems_: list[str], *, size: int = _SNIPPET_CHARS) -> str:
    """A window of ``text`` around the query's words, escaped, with <mark>s.

    Words are found by their stems as prefixes (Porter stems are prefixes of the
    words they come from), in one regular-expression pass over the stored text.
    """
    if not text:
        return ""
    usable = sorted({s for s in stems_ if len(s) >= 2}, key=len, reverse=True)
    if not usable:
        return escape(text[:size]) + ("…" if len(text) > size else "")
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in usable) + r")\w*", re.IGNORECASE)
    matches = list(itertools.islice(pattern.finditer(text), 200))
    if not matches:
        return escape(text[:size]) + ("…" if len(text) > size else "")
    # the window that shows the most different query words (one pass: a sliding window)
    keys = [m.group(0).lower()[:4] for m in matches]
    starts = [m.start() for m in matches]
    best, best_score = starts[0], -1
    inside: Counter[str] = Counter()
    end_i = 0
    for i, start in enumerate(starts):
        while end_i < len(starts) and starts[end_i] < start + size:
            inside[keys[end_i]] += 1
            end_i += 1
        if len(inside) > best_score:
            best, best_score = start, len(inside)
        inside[keys[i]] -= 1
        if not inside[keys[i]]:
            del inside[keys[i]]
    start = max(0, best - 60)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best else start
    end = min(len(text), start + size)
    parts, last = [], start
    for m in pattern.finditer(text, start, end):
        parts.append(escape(text[last : m.start()]))
        parts.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    parts.append(escape(text[last:end]))
    body = " ".join("".join(parts).split())
    return ("… " if start else "") + body + (" …" if end < len(text) else "")


class _Synonyms:
    def __init__(self, groups: list[list[str]]) -> None:
        self.by_term: dict[tuple[str, ...], list[list[str]]] = {}
        self.longest = 1
        for group in groups:
            stemmed = [_stems(term) for term in group]
            stemmed = [s for s in stemmed if s]
            for s in stemmed:
                self.by_term.setdefault(tuple(s), []).extend(o for o in stemmed if o != s)
                self.longest = max(self.longest, len(s))

    def expand(self, stems: list[str]) -> list[tuple[int, int, list[list[str]]]]:
        """(start, end, alternatives) for every run of stems that is a synonym."""
        found = []
        for size in range(self.longest, 0, -1):
            for start in range(len(stems) - size + 1):
                alternatives = self.by_term.get(tuple(stems[start : start + size]))
                if alternatives:
                    found.append((start, start + size, alternatives))
        return found


class _Or(query.Or):  # type: ignore[misc]
    """An OR that scores its matches _PART_DOCS documents at a time where Whoosh would
    score 2,048 ahead (on indexes of up to 5,000 documents a segment): the whole
    segment before the first match is collected, so the time budget could not stop
    it."""

    def _matcher(self, subs: list[Any], searcher: Any, context: Any) -> Any:
        needs_current = context.needs_current if context else True
        if (
            self.matcher_type != self.AUTO_MATCHER
            or needs_current
            or self.scale
            or len(subs) == 2
            or searcher.doc_count_all() > 5000
        ):
            return super()._matcher(subs, searcher, context)
        scored = context.weighting is not None
        matchers = [sub.matcher(searcher, context) for sub in subs]
        return matching.ArrayUnionMatcher(
            matchers, searcher.doc_count_all(), boost=self.boost, scored=scored, partsize=_PART_DOCS
        )


def _field_query(fieldname: str, stems: list[str], boost: float = 1.0) -> query.Query:
    if len(stems) == 1:
        return query.Term(fieldname, stems[0], boost=boost)
    return query.Phrase(fieldname, stems, boost=boost)


def _any_field(stems: list[str], boost: float = 1.0) -> list[query.Query]:
    """The stems in any matching field (a flat list: nested Ors are slower to match)."""
    return [_field_query(f, stems, boost) for f in _FIELDS_BOOSTS]


class _Vocabulary:
    """The spelling field's words (letters only), by length, for typo corrections.

    Whoosh's own corrector computes an edit distance in Python for every term of the
    field once an index has more than one segment (and walks a Levenshtein automaton
    over the terms with one): 0.5–6 s per unknown word on the 2,448 articles of the
    benchmark. This finds the words within two edits (optimal string alignment, so a
    transposition is one edit) in memory with rapidfuzz, in a few milliseconds. The
    vocabulary is read once per opened index, by the first search that needs it.
    """

    def __init__(self, reader: Any) -> None:
        by_length: dict[int, list[str]] = {}
        longest = MAX_FUZZY_CHARS + 2
        for term in reader.field_terms("spell"):
            if len(term) <= longest and term.isalpha():
                by_length.setdefault(len(term), []).append(term)
        self._by_length = by_length

    def nearest(self, word: str, reader: Any) -> list[str]:
        """The most frequent words one edit away, else (words of five letters or more)
        two edits away; at most MAX_CORRECTIONS, most frequent first."""
        maxdist = 2 if len(word) >= 5 else 1
        by_distance: dict[int, list[str]] = {1: [], 2: []}
        for length in range(len(word) - maxdist, len(word) + maxdist + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            found = process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=maxdist, limit=None
            )
            for term, distance, _ in found:
                if distance:
                    by_distance[int(distance)].append(term)
        for candidates in by_distance.values():
            if candidates:
                # as Whoosh ranks them: by frequency, ties by the text (highest first)
                ranked = sorted(
                    candidates,
                    key=lambda t: (reader.frequency("spell", t) or 1, t),
                    reverse=True,
                )
                return ranked[:MAX_CORRECTIONS]
        return []


class _Generation:
    """One opened index: a pool of Whoosh searchers, synonyms, spelling vocabulary and
    the corrections already looked up. Whoosh searchers are not safe to share between
    threads (their readers seek and read shared file objects), so each search leases
    one; a build that swaps in a new index gets a new generation."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.ix = index.open_dir(str(location))
        synonyms_path = location / SYNONYMS_FILE
        groups = json.loads(synonyms_path.read_text("utf-8")) if synonyms_path.exists() else []
        self.synonyms = _Synonyms(groups)
        self.groups: tuple[tuple[str, ...], ...] = tuple(tuple(g) for g in groups)
        self._lock = threading.Lock()
        first = self._open_searcher()
        self.doc_count: int = first.doc_count()
        self._idle: list[Any] = [first]
        self._vocabulary: _Vocabulary | None = None
        self._vocabulary_lock = threading.Lock()
        self._corrections: dict[str, tuple[str, ...]] = {}

    def _open_searcher(self) -> Any:
        return self.ix.searcher(weighting=scoring.BM25F())

    @contextlib.contextmanager
    def lease(self) -> Iterator[Any]:
        with self._lock:
            searcher = self._idle.pop() if self._idle else None
        if searcher is None:
            searcher = self._open_searcher()
        try:
            yield searcher
        finally:
            with self._lock:
                if len(self._idle) < _IDLE_SEARCHERS:
                    self._idle.append(searcher)
                    searcher = None
            if searcher is not None:
                searcher.close()

    def corrections(self, word: str, reader: Any, stats: QueryStats) -> tuple[str, ...]:
        """Typo corrections of ``word``, remembered for the life of this index."""
        cached = self._corrections.get(word)
        if cached is not None:
            return cached
        stats.lookups += 1
        if self._vocabulary is None:
            with self._vocabulary_lock:  # read once per index, by the first that needs it
                if self._vocabulary is None:
                    self._vocabulary = _Vocabulary(reader)
        found = tuple(self._vocabulary.nearest(word, reader))
        if len(self._corrections) >= CORRECTIONS_CACHED:
            self._corrections.clear()
        self._corrections[word] = found
        return found


class _CappedPrefix(query.Prefix):  # type: ignore[misc]
    """A prefix query that expands to at most MAX_PREFIX_TERMS terms (the ones in the
    most documents) instead of every term that starts with the prefix."""

    def _btexts(self, ixreader: Any) -> Iterable[bytes]:
        terms = list(
            itertools.islice(ixreader.expand_prefix(self.fieldname, self.text), MAX_PREFIX_SCAN)
        )
        if len(terms) <= MAX_PREFIX_TERMS:
            return terms
        return heapq.nlargest(
            MAX_PREFIX_TERMS, terms, key=lambda t: ixreader.doc_frequency(self.fieldname, t)
        )


class _Deadline(collectors.WrappingCollector):  # type: ignore[misc]
    """Stops collecting once the clock passes ``deadline`` (looked at every
    _CHECK_EVERY documents), by raising ``collectors.TimeLimit`` as Whoosh's
    TimeLimitCollector does: ``results()`` then holds the documents collected so far.

    Not TimeLimitCollector itself: it starts a timer thread per search, and its
    SIGALRM only works on the main thread (searches run in worker threads), so it too
    would only notice the time between documents.
    """

    def __init__(self, child: Any, deadline: float, clock: Callable[[], float]) -> None:
        self.child = child
        self.deadline = deadline
        self.clock = clock
        self.timed_out = False

    def collect_matches(self) -> None:
        child, clock, deadline = self.child, self.clock, self.deadline
        for n, sub_docnum in enumerate(child.matches(), start=1):
            child.collect(sub_docnum)
            if n % _CHECK_EVERY == 0 and clock() >= deadline:
                self.timed_out = True
                raise collectors.TimeLimit


class _Allow(collectors.WrappingCollector):  # type: ignore[misc]
    """Passes only the allowed documents on to its child. Whoosh's FilterCollector
    filters in ``collect_matches``, which an outer collector (facets) bypasses; this
    filters in ``collect``, so facets count every category while the hits are
    filtered."""

    def __init__(self, child: Any, allowed: frozenset[int]) -> None:
        self.child = child
        self.allowed = allowed

    def collect(self, sub_docnum: int) -> Any:
        if self.child.offset + sub_docnum in self.allowed:
            return self.child.collect(sub_docnum)
        return 0


class Searcher:
    """One open index per process, reopened when the index changes; safe to use from
    several threads at once.

    ``locate`` returns the directory of the current index; it is called at most
    every ``check_every`` seconds, so a build that swaps in a new index is picked up
    quickly without reopening anything per request. ``budget`` is the time per query
    (``clock`` seconds) after which the best results found so far are returned.
    """

    def __init__(
        self,
        locate: Callable[[], Path | None],
        *,
        check_every: float = 0.5,
        budget: float = SEARCH_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._locate = locate
        self._check_every = check_every
        self._budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = 0.0
        self._generation: _Generation | None = None

    def _current(self) -> _Generation | None:
        now = time.monotonic()
        if now - self._checked >= self._check_every or self._generation is None:
            with self._lock:
                self._checked = now
                location = self._locate()
                current = self._generation
                if location is not None and (current is None or location != current.location):
                    # the old generation may still serve a request in another thread; its
                    # files stay readable (the builder keeps previous generations), and
                    # its searchers are closed when garbage-collected.
                    self._generation = _Generation(location)
        return self._generation

    def synonym_groups(self) -> tuple[tuple[str, ...], ...]:
        """The content's synonym lines, as built into the current index."""
        current = self._current()
        return current.groups if current else ()

    @property
    def ready(self) -> bool:
        return self._current() is not None

    def doc_count(self) -> int:
        current = self._current()
        return current.doc_count if current else 0

    def _build_query(
        self,
        text: str,
        generation: _Generation,
        searcher: Any,
        deadline: float,
        stats: QueryStats,
    ) -> tuple[query.Query | None, str | None]:
        """Return (query, corrected text or None).

        One concept per word (or synonym run): the word in any field and its synonyms.
        A word the index does not know is also replaced by its closest known spellings
        (typo tolerance; they make the "did you mean" text), for the first
        MAX_CORRECTED_WORDS such words, the second and later ones only within the time
        budget. The last word also matches as a prefix, so results follow the customer
        as they type.
        """
        reader = searcher.reader()
        pairs: list[tuple[str, str]] = []
        corrected: list[str] = []
        unknown: set[str] = set()
        changed = False
        for word in words(text):
            stats.words += 1
            word_stems = _stems(word)
            if not word_stems:
                corrected.append(word)
                continue
            for stem in word_stems:
                pairs.append((word, stem))
            known = any(
                reader.doc_frequency(f, s)
                for s in word_stems
                for f in ("title", "body", "keywords")
            )
            if not known:
                unknown.add(word)
                stats.unknown += 1
            if (
                known
                or not (4 <= len(word) <= MAX_FUZZY_CHARS)
                or not word.isalpha()
                or stats.corrected >= MAX_CORRECTED_WORDS
                or (stats.corrected and self._clock() >= deadline)
            ):
                corrected.append(word)
                continue
            stats.corrected += 1
            options = generation.corrections(word, reader, stats)
            if options:
                corrected.append(options[0])
                changed = True
                fixes = "|".join(f for o in options for f in _stems(o))
                pairs[-1] = (word, pairs[-1][1] + "\x00" + fixes)
            else:
                corrected.append(word)
        if not pairs:
            return None, None
        stems = [s.split("\x00")[0] for _, s in pairs]
        concepts: list[query.Query] = []
        covered: set[int] = set()
        for start, end, alternatives in generation.synonyms.expand(stems):
            if covered & set(range(start, end)):
                continue
            covered.update(range(start, end))
            options_q = _any_field(stems[start:end])
            for alt in alternatives:
                options_q += _any_field(alt, boost=0.8)
            concepts.append(_Or(options_q))
        last = len(pairs) - 1
        for i, (word, packed) in enumerate(pairs):
            if i in covered:
                continue
            stem, _, fixes = packed.partition("\x00")
            options_q = _any_field([stem])
            for fix in fixes.split("|"):
                if fix:
                    options_q += _any_field([fix], boost=0.7)
            # a last word the index does not know is probably still being typed
            if (
                i == last
                and word in unknown
                and 3 <= len(word) <= MAX_FUZZY_CHARS
                and word.isalpha()
            ):
                options_q += [_CappedPrefix(f, word, boost=0.5) for f in ("title", "keywords")]
            concepts.append(_Or(options_q))
        q = _Or(concepts) if len(concepts) > 1 else concepts[0]
        stats.clauses = sum(1 for _ in q.leaves())
        return q, (" ".join(corrected) if changed else None)

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
        with current.lease() as searcher:
            return self._search(
                current, searcher, text, limit, page, category, snippets, facets, empty
            )

    def _search(
        self,
        generation: _Generation,
        searcher: Any,
        text: str,
        limit: int,
        page: int,
        category: str | None,
        snippets: bool,
        facets: bool,
        empty: SearchResult,
    ) -> SearchResult:
        deadline = self._clock() + self._budget
        stats = empty.stats
        q, suggestion = self._build_query(text, generation, searcher, deadline, stats)
        if q is None:
            return empty
        # An exact top N: Whoosh's block-quality and matcher-replacement shortcuts can
        # drop documents that belong in the top N, and cannot count matches (which
        # would run the query a second time). Scoring every match is exact and faster.
        top = collectors.TopCollector(limit=page * limit, usequality=False)
        top.replace = 0
        collector: Any = top
        if category:
            allowed = frozenset(searcher.docs_for_query(query.Term("category", category)))
            collector = _Allow(collector, allowed)
        if facets:
            collector = collectors.FacetCollector(
                collector,
                sorting.Facets({"category": sorting.FieldFacet("category")}),
                maptype=sorting.Count,
            )
        bounded = _Deadline(collector, deadline, self._clock)
        try:
            searcher.search_with_collector(q, bounded)
        except collectors.TimeLimit:
            stats.timed_out = True
        results = bounded.results()
        hits: list[Hit] = []
        marks = [s for w in words(suggestion or text) for s in _stems(w)] + words(text)
        for hit in results[(page - 1) * limit : page * limit]:
            stored = hit.fields()
            text_snippet = snippet(stored.get("body", ""), marks) if snippets else ""
            if not text_snippet:
                text_snippet = escape(stored.get("summary", ""), quote=False)
            hits.append(
                Hit(
                    slug=stored["slug"],
                    title=stored["title"],
                    url=stored["url"],
                    summary=stored.get("summary", ""),
                    snippet=text_snippet,
                    category=stored.get("category", ""),
                    category_title=stored.get("category_title", ""),
                    score=float(hit.score or 0.0),
                )
            )
        total = top.count()
        facet_counts: dict[str, int] = {}
        if facets:
            facet_counts = dict(
                sorted(results.groups("category").items(), key=lambda kv: (-kv[1], kv[0]))
            )
        return SearchResult(
            query=text,
            total=total,
            suggestion=suggestion,
            hits=hits,
            facets=facet_counts,
            page=page,
            pages=math.ceil(total / limit),
            limit=limit,
            partial=stats.timed_out,
            stats=stats,
        )


def result_to_dict(result: SearchResult) -> dict[str, Any]:
    return asdict(result)
