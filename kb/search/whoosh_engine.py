"""The Whoosh engine: pure Python, embedded, the default.

Every use of Whoosh lives in this module. ``whoosh-reloaded`` is no longer maintained
upstream; it stays the default because it needs nothing but Python, and the
``tantivy`` engine (kb/search/tantivy_engine.py) is the maintained, faster choice
behind the same interface.

The index has three searched fields (title, keywords, body), a spelling field of the
words as written, and the stored fields hits and snippets need. Queries are scored
here, with Whoosh's postings read a block at a time (:class:`_Scores`), not with
Whoosh's query matchers; work per query is bounded by a deadline looked at after each
posting list: after the time budget the best results found so far are returned.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index, query, scoring
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import SegmentReader, TermNotFound

from kb.search.core import (
    FIELD_WEIGHTS,
    MAX_PREFIX_SCAN,
    MAX_PREFIX_TERMS,
    PREFIX_BOOST,
    PROXIMITY_SLOP,
    PROXIMITY_WEIGHTS,
    STOP_WORDS,
    QueryPlan,
    RawHit,
    RawResult,
    SearchDoc,
)

_K1, _B = 1.2, 0.75  # BM25
CACHED_POSTINGS = 2_000_000  # decoded, scored postings kept per generation
PROXIMITY_WINDOW = 50  # best documents so far looked at for adjacent query words
_IDLE_SEARCHERS = 8  # open Whoosh searchers kept per index for reuse
_STORED = ("slug", "title", "url", "summary", "category", "category_title", "body", "extra")

_ANALYZER = StemmingAnalyzer(stoplist=STOP_WORDS, minsize=2)
# words as written (no stemming, no stop words), for "did you mean" corrections
_SPELL_ANALYZER = RegexTokenizer() | LowercaseFilter()

# Incremental updates (merge_small_segments): segments of similar size merge in tiers
# of MERGE_FACTOR, so a one-article update rewrites a few documents on average and the
# full build's segments (each over LARGE_SEGMENT of the documents) are never rewritten.
MERGE_FACTOR = 4
LARGE_SEGMENT = 0.1
MAX_SEGMENTS = 24  # past this many, everything is merged once


def _schema() -> Schema:
    return Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=_ANALYZER, stored=True, field_boost=FIELD_WEIGHTS["title"]),
        keywords=TEXT(analyzer=_ANALYZER, field_boost=FIELD_WEIGHTS["keywords"]),
        body=TEXT(analyzer=_ANALYZER, field_boost=FIELD_WEIGHTS["body"]),
        spell=TEXT(analyzer=_SPELL_ANALYZER, phrase=False),
        prose=STORED(),
        extra=STORED(),
        summary=STORED(),
        category=ID(stored=True),
        category_title=STORED(),
        url=STORED(),
        digest=STORED(),
    )


def _fields(doc: SearchDoc) -> dict[str, Any]:
    return {
        "slug": doc.slug,
        "title": doc.title,
        "keywords": doc.keyword_text(),
        "body": doc.body_text(),
        "spell": doc.spell_text(),
        "prose": doc.body,
        "extra": doc.extra,
        "summary": doc.summary,
        "category": doc.category,
        "category_title": doc.category_title,
        "url": doc.url,
        "digest": doc.digest,
    }


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
    log4(n) documents on average, at most 3 segments per tier remain, and the full
    build's large segments are never rewritten.
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


class _Scores:
    """What scoring needs of one opened index, read once per generation: field lengths,
    the category of every document, and the scores of the term postings read so far.

    Whoosh's own matchers (unions of term matchers, a Python call per posting per
    field) made an OR query over the real corpus cost several times SQLite FTS5. Here a
    term's postings are read a block at a time and scored with BM25 in one loop; a
    query adds up the scores of its terms. Decoded postings are kept per generation,
    up to CACHED_POSTINGS postings in all (then the cache starts over): whoosh-reloaded
    is pinned (2.7.5, no longer maintained), so the block format read here is fixed.
    """

    def __init__(self, reader: Any) -> None:
        count = reader.doc_count_all()
        self.documents = max(1, reader.doc_count())
        self.lengths = {
            f: [reader.doc_field_length(d, f, 0) or 0 for d in range(count)] for f in FIELD_WEIGHTS
        }
        self.average = {
            f: (sum(lengths) / self.documents) or 1.0 for f, lengths in self.lengths.items()
        }
        self.category = [""] * count
        for term in reader.field_terms("category"):
            for docnum in reader.postings("category", term).all_ids():
                self.category[docnum] = term
        self._cache: dict[tuple[str, str], dict[int, float]] = {}
        self._cached = 0
        self._lock = threading.Lock()

    def term(self, reader: Any, fieldname: str, term: str) -> dict[int, float]:
        """docnum -> BM25 score of ``term`` in ``fieldname`` (unweighted)."""
        key = (fieldname, term)
        found = self._cache.get(key)
        if found is not None:
            return found
        ids, frequencies = _postings(reader, fieldname, term)
        df = len(ids)
        idf = math.log(1 + (self.documents - df + 0.5) / (df + 0.5))
        lengths = self.lengths[fieldname]
        c1 = _K1 * (1 - _B)
        c2 = _K1 * _B / self.average[fieldname]
        top = idf * (_K1 + 1)
        scores = {
            d: top * tf / (tf + c1 + c2 * lengths[d])
            for d, tf in zip(ids, frequencies, strict=True)
        }
        with self._lock:
            if self._cached + df > CACHED_POSTINGS:
                self._cache.clear()
                self._cached = 0
            self._cache[key] = scores
            self._cached += df
        return scores


def _postings(reader: Any, fieldname: str, term: str) -> tuple[list[int], list[float]]:
    """(docnums, term frequencies) of a term over every segment, deleted documents left
    out; the on-disk blocks are read whole (see _Scores)."""
    ids: list[int] = []
    frequencies: list[float] = []
    for segment, base in reader.leaf_readers():
        try:
            m = segment.postings(fieldname, term)
        except TermNotFound:
            continue
        deleted: Any = ()
        if isinstance(m, FilterMatcher):
            deleted, m = m._ids, m.child
        if isinstance(m, W3LeafMatcher):
            while m.is_active():
                if m._ids is None:
                    m._read_ids()
                if m._weights is None:
                    m._read_weights()
                block_ids, block_weights = m._ids, m._weights
                if deleted:
                    pairs = [
                        (i, w)
                        for i, w in zip(block_ids, block_weights, strict=True)
                        if i not in deleted
                    ]
                    ids += [base + i for i, _ in pairs]
                    frequencies += [w for _, w in pairs]
                else:
                    ids += [base + i for i in block_ids]
                    frequencies += block_weights
                m._next_block()
        else:  # small posting lists are stored inline: a plain matcher
            while m.is_active():
                if m.id() not in deleted:
                    ids.append(base + m.id())
                    frequencies.append(m.weight())
                m.next()
    return ids, frequencies


class _Session:
    def __init__(self, searcher: Any, scores: _Scores) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.scores = scores

    def known(self, stem: str) -> bool:
        return any(self.reader.doc_frequency(f, stem) for f in FIELD_WEIGHTS)

    def completions(self, prefix: str) -> list[str]:
        reader = self.reader
        terms: dict[str, int] = {}
        for f in ("title", "keywords"):
            for btext in itertools.islice(reader.expand_prefix(f, prefix), MAX_PREFIX_SCAN):
                term = btext.decode("utf-8")
                terms[term] = terms.get(term, 0) + reader.doc_frequency(f, term)
        if len(terms) <= MAX_PREFIX_TERMS:
            return sorted(terms, key=lambda t: (-terms[t], t))
        return heapq.nsmallest(MAX_PREFIX_TERMS, terms, key=lambda t: (-terms[t], t))

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
    ) -> RawResult:
        """Adds up the plan's term and phrase scores per document, one posting list at a
        time; when the clock passes ``deadline`` (looked at after each list) the scores
        so far are the result (``timed_out``)."""
        reader, stats = self.reader, self.scores
        total: dict[int, float] = {}
        timed_out = False

        def add(scores: dict[int, float], weight: float) -> None:
            get = total.get
            for d, score in scores.items():
                total[d] = get(d, 0.0) + score * weight

        work: list[Callable[[], None]] = []
        for concept in plan.concepts:
            for alt in concept.alternatives:
                for f, weight in FIELD_WEIGHTS.items():
                    work.append(
                        functools.partial(self._add_leaf, add, f, alt.stems, weight * alt.boost)
                    )
            for term in concept.completions:
                for f in ("title", "keywords"):
                    weight = FIELD_WEIGHTS[f] * PREFIX_BOOST
                    work.append(functools.partial(add, stats.term(reader, f, term), weight))
        for a, b in plan.pairs:
            for f, weight in PROXIMITY_WEIGHTS.items():
                work.append(functools.partial(self._add_near, add, total, f, a, b, weight))
        for step in work:
            step()
            if clock() >= deadline and step is not work[-1]:
                timed_out = True
                break
        category_of = stats.category
        if category:
            matched = {d: s for d, s in total.items() if category_of[d] == category}
        else:
            matched = total
        counts = dict(Counter(category_of[d] for d in total)) if facets else {}
        best = heapq.nsmallest(offset + limit, matched.items(), key=lambda kv: (-kv[1], kv[0]))
        hits = []
        for docnum, score in best[offset:]:
            stored = self.searcher.stored_fields(docnum)
            stored["body"] = stored.pop("prose", "")
            hits.append(RawHit({k: stored.get(k, "") for k in _STORED}, score))
        return RawResult(hits, len(matched), counts, timed_out)

    def _add_leaf(
        self,
        add: Callable[[dict[int, float], float], None],
        f: str,
        stems: tuple[str, ...],
        weight: float,
    ) -> None:
        if len(stems) == 1:
            add(self.scores.term(self.reader, f, stems[0]), weight)
            return
        # a phrase (a synonym of several words): its terms' scores where they are adjacent
        docs = self._phrase(f, stems, slop=1)
        parts = [self.scores.term(self.reader, f, s) for s in stems]
        add({d: sum(p.get(d, 0.0) for p in parts) for d in docs}, weight)

    def _add_near(
        self,
        add: Callable[[dict[int, float], float], None],
        total: dict[int, float],
        f: str,
        a: str,
        b: str,
        weight: float,
    ) -> None:
        """Adjacent query words found near each other (``b`` at most PROXIMITY_SLOP
        words after ``a``): their scores again, weighted. Looked for in the
        PROXIMITY_WINDOW best documents so far that have both words, so reading
        positions stays a bounded amount of work."""
        first, second = self.scores.term(self.reader, f, a), self.scores.term(self.reader, f, b)
        both = [d for d in first if d in second]
        if len(both) > PROXIMITY_WINDOW:
            both = heapq.nlargest(PROXIMITY_WINDOW, both, key=lambda d: total.get(d, 0.0))
        if not both:
            return
        both.sort()
        where_a = self._positions(f, a, both)
        where_b = self._positions(f, b, both)
        near = {}
        for d in both:
            pa, pb = where_a.get(d), where_b.get(d)
            if pa and pb and any(0 < y - x <= PROXIMITY_SLOP + 1 for x in pa for y in pb):
                near[d] = first[d] + second[d]
        add(near, weight)

    def _positions(self, f: str, term: str, docnums: list[int]) -> dict[int, list[int]]:
        """docnum -> positions of ``term`` in ``f``, for the (sorted) ``docnums``."""
        found: dict[int, list[int]] = {}
        for segment, base in self.reader.leaf_readers():
            local = [d - base for d in docnums if base <= d < base + segment.doc_count_all()]
            if not local:
                continue
            try:
                m = segment.postings(f, term)
            except TermNotFound:
                continue
            for d in local:
                if not m.is_active():
                    break
                m.skip_to(d)
                if m.is_active() and m.id() == d:
                    found[base + d] = list(m.value_as("positions"))
        return found

    def _phrase(self, f: str, stems: tuple[str, ...], slop: int) -> list[int]:
        m = query.Phrase(f, list(stems), slop=slop).matcher(self.searcher)
        return list(m.all_ids()) if m.is_active() else []


class _Index:
    """A pool of Whoosh searchers over one index directory. Whoosh searchers are not
    safe to share between threads (their readers seek and read shared file objects),
    so each query leases one."""

    def __init__(self, location: Path) -> None:
        self.ix = index.open_dir(str(location))
        self._lock = threading.Lock()
        first = self._open_searcher()
        self.doc_count: int = first.doc_count()
        self._idle: list[Any] = [first]
        self._scores: _Scores | None = None

    def _open_searcher(self) -> Any:
        return self.ix.searcher(weighting=scoring.BM25F())

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        with self._lock:
            searcher = self._idle.pop() if self._idle else None
        if searcher is None:
            searcher = self._open_searcher()
        try:
            if self._scores is None:
                with self._lock:
                    if self._scores is None:
                        self._scores = _Scores(searcher.reader())
            yield _Session(searcher, self._scores)
        finally:
            with self._lock:
                if len(self._idle) < _IDLE_SEARCHERS:
                    self._idle.append(searcher)
                    searcher = None
            if searcher is not None:
                searcher.close()

    def spelling(self) -> Iterable[tuple[str, int]]:
        with self.session() as session:
            reader = session.reader
            return [
                (text.decode("utf-8"), info.doc_frequency())
                for text, info in reader.iter_field("spell")
            ]


class WhooshEngine:
    name = "whoosh"

    def analyze(self, text: str) -> list[str]:
        return [t.text for t in _ANALYZER(text)]

    def write(self, index_dir: Path, docs: Iterable[SearchDoc], *, procs: int) -> int:
        ix = index.create_in(str(index_dir), _schema())
        options: dict[str, Any] = {"limitmb": 256}
        if procs > 1:
            options.update(procs=procs, multisegment=True)
        writer = ix.writer(**options)
        count = 0
        for doc in docs:
            writer.add_document(**_fields(doc))
            count += 1
        writer.commit()
        ix.close()
        return count

    def update(
        self, index_dir: Path, changed: Iterable[SearchDoc], removed: Iterable[str]
    ) -> tuple[int, int]:
        ix = index.open_dir(str(index_dir))
        writer = ix.writer(limitmb=128)
        updated = deleted = 0
        try:
            for slug in removed:
                writer.delete_by_term("slug", slug)
                deleted += 1
            for doc in changed:
                writer.update_document(**_fields(doc))
                updated += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=merge_small_segments)
        ix.close()
        return updated, deleted

    def digests(self, index_dir: Path) -> dict[str, str]:
        ix = index.open_dir(str(index_dir))
        try:
            with ix.searcher() as s:
                return {f["slug"]: f["digest"] for f in s.all_stored_fields()}
        finally:
            ix.close()

    def readable(self, index_dir: Path) -> bool:
        try:
            if not index.exists_in(str(index_dir)):
                return False
            ix = index.open_dir(str(index_dir))
            try:
                if set(ix.schema.names()) != set(_schema().names()):
                    return False
                with ix.searcher() as s:
                    s.doc_count()
                    for _ in zip(range(3), s.all_stored_fields(), strict=False):
                        pass
            finally:
                ix.close()
        except Exception:
            return False
        return True

    def open(self, index_dir: Path) -> _Index:
        return _Index(index_dir)


ENGINE = WhooshEngine()
