"""Full-text search over the knowledge base.

Every use of Whoosh lives in this module, so the engine can be swapped without
touching the builder or the portal. The index is written by :func:`write_index`
(full) or :func:`update_index` (incremental) into a directory the builder swaps in
atomically; :class:`Searcher` keeps one open searcher per process and reopens it
only when the current index directory changes.

Queries are never parsed with Whoosh's query language: customer text is reduced to
words, so field syntax, wildcards and very long input cannot make a query expensive.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from whoosh import collectors, index, query, scoring, sorting
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema

SYNONYMS_FILE = "synonyms.json"
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
MAX_LIMIT = 50
MAX_FUZZY_CHARS = 24
_WORD = re.compile(r"\w+", re.UNICODE)

_ANALYZER = StemmingAnalyzer()
# words as written (no stemming, no stop words), for "did you mean" corrections
_SPELL_ANALYZER = RegexTokenizer() | LowercaseFilter()
# three matching fields: fewer posting lists per query word means faster queries
_FIELDS_BOOSTS = {"title": 4.0, "keywords": 2.5, "body": 1.0}


MAX_SEGMENTS = 12
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
class SearchResult:
    query: str
    total: int
    suggestion: str | None
    hits: list[Hit]
    facets: dict[str, int] = field(default_factory=dict)
    page: int = 1
    pages: int = 0
    limit: int = 10

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
    # a one-document update writes a small new segment; merging segments can rewrite a
    # large one, so merge only once enough small ones have piled up
    segments = len(ix._segments())
    writer.commit(merge=segments >= MAX_SEGMENTS)
    ix.close()
    _write_synonyms(index_dir, synonyms)
    return updated, deleted


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
    # the window that shows the most different query words
    best, best_score = matches[0].start(), -1
    for m in matches:
        start = m.start()
        inside = {x.group(0).lower()[:4] for x in matches if start <= x.start() < start + size}
        if len(inside) > best_score:
            best, best_score = start, len(inside)
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


def _field_query(fieldname: str, stems: list[str], boost: float = 1.0) -> query.Query:
    if len(stems) == 1:
        return query.Term(fieldname, stems[0], boost=boost)
    return query.Phrase(fieldname, stems, boost=boost)


def _any_field(stems: list[str], boost: float = 1.0) -> list[query.Query]:
    """The stems in any matching field (a flat list: nested Ors are slower to match)."""
    return [_field_query(f, stems, boost) for f in _FIELDS_BOOSTS]


class Searcher:
    """One open Whoosh searcher per process, reopened when the index changes.

    ``locate`` returns the directory of the current index; it is called at most
    every ``check_every`` seconds, so a build that swaps in a new index is picked up
    quickly without reopening anything per request.
    """

    def __init__(self, locate: Callable[[], Path | None], *, check_every: float = 0.5) -> None:
        self._locate = locate
        self._check_every = check_every
        self._lock = threading.Lock()
        self._checked = 0.0
        self._dir: Path | None = None
        self._ix: Any = None
        self._searcher: Any = None
        self._synonyms = _Synonyms([])
        self._groups: tuple[tuple[str, ...], ...] = ()

    def _current(self) -> tuple[Any, _Synonyms] | None:
        now = time.monotonic()
        if now - self._checked >= self._check_every or self._searcher is None:
            with self._lock:
                self._checked = now
                location = self._locate()
                if location is not None and location != self._dir:
                    self._open(location)
        if self._searcher is None:
            return None
        return self._searcher, self._synonyms

    def _open(self, location: Path) -> None:
        ix = index.open_dir(str(location))
        searcher = ix.searcher(weighting=scoring.BM25F())
        synonyms_path = location / SYNONYMS_FILE
        groups = json.loads(synonyms_path.read_text("utf-8")) if synonyms_path.exists() else []
        old = self._searcher
        self._ix, self._searcher, self._synonyms, self._dir = (
            ix,
            searcher,
            _Synonyms(groups),
            location,
        )
        self._groups = tuple(tuple(g) for g in groups)
        # the old searcher may still serve a request in another thread; its files stay
        # readable (the builder keeps previous generations), and it is closed when
        # garbage-collected.
        del old

    def synonym_groups(self) -> tuple[tuple[str, ...], ...]:
        """The content's synonym lines, as built into the current index."""
        self._current()
        return self._groups

    @property
    def ready(self) -> bool:
        return self._current() is not None

    def doc_count(self) -> int:
        current = self._current()
        return current[0].doc_count() if current else 0

    def build_query(
        self, text: str, searcher: Any, synonyms: _Synonyms
    ) -> tuple[query.Query | None, str | None]:
        """Return (query, corrected text or None).

        One concept per word (or synonym run): the word in any field and its synonyms.
        A word the index does not know is also replaced by its closest known spellings
        (typo tolerance; they make the "did you mean" text). The last word also matches
        as a prefix, so results follow the customer as they type.
        """
        reader = searcher.reader()
        corrector = None
        pairs: list[tuple[str, str]] = []
        corrected: list[str] = []
        unknown: set[str] = set()
        changed = False
        for word in words(text):
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
            if known or not (4 <= len(word) <= MAX_FUZZY_CHARS) or not word.isalpha():
                corrected.append(word)
                continue
            corrector = corrector or searcher.corrector("spell")
            # nearest first: whoosh ranks suggestions within maxdist by frequency
            options = corrector.suggest(word, limit=1, maxdist=1)
            if not options and len(word) >= 5:
                options = corrector.suggest(word, limit=1, maxdist=2)
            if options:
                corrected.append(options[0])
                changed = True
                pairs[-1] = (word, pairs[-1][1] + "\x00" + "|".join(_stems(options[0])))
            else:
                corrected.append(word)
        if not pairs:
            return None, None
        stems = [s.split("\x00")[0] for _, s in pairs]
        concepts: list[query.Query] = []
        covered: set[int] = set()
        for start, end, alternatives in synonyms.expand(stems):
            if covered & set(range(start, end)):
                continue
            covered.update(range(start, end))
            options_q = _any_field(stems[start:end])
            for alt in alternatives:
                options_q += _any_field(alt, boost=0.8)
            concepts.append(query.Or(options_q))
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
                options_q += [query.Prefix(f, word, boost=0.5) for f in ("title", "keywords")]
            concepts.append(query.Or(options_q))
        q = query.Or(concepts) if len(concepts) > 1 else concepts[0]
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
        searcher, synonyms = current
        q, suggestion = self.build_query(text, searcher, synonyms)
        if q is None:
            return empty
        # An exact top N: Whoosh's block-quality and matcher-replacement shortcuts can
        # drop documents that belong in the top N, and cannot count matches (which
        # would run the query a second time). Scoring every match is exact and faster.
        top = collectors.TopCollector(limit=page * limit, usequality=False)
        top.replace = 0
        collector: Any = top
        if category:
            collector = collectors.FilterCollector(
                collector, allow=query.Term("category", category)
            )
        if facets:
            collector = collectors.FacetCollector(
                collector,
                sorting.Facets({"category": sorting.FieldFacet("category")}),
                maptype=sorting.Count,
            )
        searcher.search_with_collector(q, collector)
        results = collector.results()
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
        )


def result_to_dict(result: SearchResult) -> dict[str, Any]:
    return asdict(result)
