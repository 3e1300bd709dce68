"""The tantivy engine: the Rust search library through its official Python bindings
(``pip install support-portal[tantivy]``; ``PORTAL_SEARCH_ENGINE=tantivy``).

Same fields and the same query plan as the Whoosh engine (kb/search/core.py decides
what a query means); tantivy indexes with its own analyzer (lower case, the shared
stop words, the Snowball English stemmer), which the query side uses too, scores with
BM25 per field (field weights as boosts) and counts the category facets with a terms
aggregation. A query's work is bounded before it runs: at most MAX_QUERY_WORDS words,
a capped number of corrections and completions; the search itself runs in Rust in a
fraction of a millisecond to a few milliseconds (bench/), so it is not interrupted.

Index files are never changed in place (new segments, new delete files, ``meta.json``
replaced by a rename), so an index directory hard-linked from the previous generation
can be updated without touching the generation a server still reads.
"""

from __future__ import annotations

import contextlib
import json
import string
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import tantivy

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

_STEM = "kb_stem"
_SPELL = "kb_spell"
_HEAP = 96_000_000  # bytes of indexing memory per writer
_STOP = sorted(STOP_WORDS | set(string.ascii_lowercase))  # one letter: "doesn't" -> "t"


def _stem_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(_STOP))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _spell_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .build()
    )


_ANALYZER = _stem_analyzer()


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("slug", stored=True, tokenizer_name="raw")
    for name in FIELD_WEIGHTS:
        builder.add_text_field(name, tokenizer_name=_STEM)
    builder.add_text_field("spell", tokenizer_name=_SPELL, index_option="basic")
    builder.add_text_field("category", stored=True, fast=True, tokenizer_name="raw")
    # what hits show and snippets are cut from, stored as one JSON document
    builder.add_bytes_field("shown", stored=True)
    return builder.build()


_SCHEMA = _schema()


def _register(ix: tantivy.Index) -> tantivy.Index:
    ix.register_tokenizer(_STEM, _stem_analyzer())
    ix.register_tokenizer(_SPELL, _spell_analyzer())
    return ix


def _document(doc: SearchDoc) -> tantivy.Document:
    shown = {
        "slug": doc.slug,
        "title": doc.title,
        "url": doc.url,
        "summary": doc.summary,
        "category_title": doc.category_title,
        "body": doc.body,
        "extra": doc.extra,
        "digest": doc.digest,
    }
    return tantivy.Document(
        slug=doc.slug,
        title=doc.title,
        keywords=doc.keyword_text(),
        body=doc.body_text(),
        spell=doc.spell_text(),
        category=doc.category,
        shown=json.dumps(shown, ensure_ascii=False).encode("utf-8"),
    )


def _shown(document: tantivy.Document) -> dict[str, str]:
    raw = document.get_first("shown")
    data: dict[str, str] = json.loads(bytes(raw)) if raw else {}
    data["category"] = str(document.get_first("category") or "")
    return data


def _leaf(fieldname: str, stems: tuple[str, ...], boost: float) -> tantivy.Query:
    if len(stems) == 1:
        q = tantivy.Query.term_query(_SCHEMA, fieldname, stems[0])
    else:  # stop words leave gaps in the positions: allow one
        q = tantivy.Query.phrase_query(_SCHEMA, fieldname, list(stems), slop=1)
    return tantivy.Query.boost_query(q, boost)


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def compile_plan(plan: QueryPlan) -> tantivy.Query:
    parts: list[tantivy.Query] = []
    for concept in plan.concepts:
        leaves = [
            _leaf(f, alt.stems, alt.boost * weight)
            for alt in concept.alternatives
            for f, weight in FIELD_WEIGHTS.items()
        ]
        leaves += [
            _leaf(f, (term,), PREFIX_BOOST * FIELD_WEIGHTS[f])
            for term in concept.completions
            for f in ("title", "keywords")
        ]
        parts.append(_any(leaves))
    for a, b in plan.pairs:
        for f, weight in PROXIMITY_WEIGHTS.items():
            near = tantivy.Query.phrase_query(_SCHEMA, f, [a, b], slop=PROXIMITY_SLOP)
            parts.append(tantivy.Query.boost_query(near, weight))
    return _any(parts) if len(parts) > 1 else parts[0]


class _Session:
    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher

    def known(self, stem: str) -> bool:
        return any(self.searcher.doc_freq(f, stem) for f in FIELD_WEIGHTS)

    def completions(self, prefix: str) -> list[str]:
        terms: dict[str, int] = {}
        for f in ("title", "keywords"):
            for term, docs in self.searcher.terms_with_prefix(f, prefix, limit=MAX_PREFIX_SCAN):
                terms[term] = terms.get(term, 0) + docs
        return sorted(terms, key=lambda t: (-terms[t], t))[:MAX_PREFIX_TERMS]

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
        searcher = self.searcher
        q = compile_plan(plan)
        counts: dict[str, int] = {}
        if facets:
            agg = searcher.aggregate(q, {"c": {"terms": {"field": "category", "size": 1000}}})
            counts = {b["key"]: int(b["doc_count"]) for b in agg["c"]["buckets"]}
        if category:
            only = tantivy.Query.term_query(_SCHEMA, "category", category)
            q = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, q),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(only, 0.0)),
                ]
            )
        found = searcher.search(q, limit, count=True, offset=offset)
        hits = [
            RawHit(_shown(searcher.doc(address)), float(score)) for score, address in found.hits
        ]
        total = getattr(found, "count", None)  # missing from the 0.27 type stubs
        return RawResult(hits, int(total or 0), counts)


class _Index:
    """One index directory: one tantivy searcher, safe to share between threads."""

    def __init__(self, location: Path) -> None:
        self.ix = _register(tantivy.Index.open(str(location)))
        self.searcher = self.ix.searcher()
        self.doc_count: int = self.searcher.num_docs

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        yield _Session(self.searcher)

    def spelling(self) -> Iterable[tuple[str, int]]:
        return self.searcher.terms_with_prefix("spell", "", limit=None)


class TantivyEngine:
    name = "tantivy"

    def analyze(self, text: str) -> list[str]:
        return _ANALYZER.analyze(text)

    def write(self, index_dir: Path, docs: Iterable[SearchDoc], *, procs: int) -> int:
        ix = _register(tantivy.Index(_SCHEMA, path=str(index_dir), reuse=False))
        writer = ix.writer(heap_size=_HEAP * max(1, procs), num_threads=max(1, procs))
        count = 0
        for doc in docs:
            writer.add_document(_document(doc))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        return count

    def update(
        self, index_dir: Path, changed: Iterable[SearchDoc], removed: Iterable[str]
    ) -> tuple[int, int]:
        ix = _register(tantivy.Index.open(str(index_dir)))
        writer = ix.writer(heap_size=_HEAP, num_threads=1)
        updated = deleted = 0
        try:
            for slug in removed:
                writer.delete_documents_by_term("slug", slug)
                deleted += 1
            for doc in changed:
                writer.delete_documents_by_term("slug", doc.slug)
                writer.add_document(_document(doc))
                updated += 1
        except BaseException:
            writer.rollback()
            raise
        writer.commit()
        writer.wait_merging_threads()
        return updated, deleted

    def digests(self, index_dir: Path) -> dict[str, str]:
        searcher = _register(tantivy.Index.open(str(index_dir))).searcher()
        total = searcher.num_docs
        if not total:
            return {}
        found = searcher.search(tantivy.Query.all_query(), total, count=False)
        shown = [_shown(searcher.doc(address)) for _, address in found.hits]
        return {s["slug"]: s["digest"] for s in shown}

    def readable(self, index_dir: Path) -> bool:
        try:
            if not tantivy.Index.exists(str(index_dir)):
                return False
            searcher = _register(tantivy.Index.open(str(index_dir))).searcher()
            found = searcher.search(tantivy.Query.all_query(), 3, count=False)
            for _, address in found.hits:
                if "slug" not in _shown(searcher.doc(address)):
                    return False
        except Exception:
            return False
        return True

    def open(self, index_dir: Path) -> _Index:
        return _Index(index_dir)


ENGINE = TantivyEngine()
