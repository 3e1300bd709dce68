"""Full-text search over the knowledge base, with two engines behind one interface.

``kb.search.core`` holds what both engines share: the documents (:class:`SearchDoc`)
and results (:class:`SearchResult`, :class:`Hit`), the query analysis (words, stop
words, synonyms, typo corrections, completions, proximity) and the
:class:`Searcher`. The engines store documents and run query plans:

* ``whoosh`` (kb/search/whoosh_engine.py, the default): pure Python, embedded. Every
  use of Whoosh lives in that module; ``whoosh-reloaded`` is no longer maintained
  upstream, which is why the tantivy engine exists.
* ``tantivy`` (kb/search/tantivy_engine.py): the Rust engine's official bindings,
  installed with ``pip install support-portal[tantivy]``.

The builder writes the chosen engine's index with :func:`write_index` (full) or
:func:`update_index` (incremental) into a generation directory it swaps in
atomically; the directory's ``engine.json`` says which engine wrote it, and a
:class:`Searcher` opens it with that engine.

Queries are never parsed with an engine's query language: customer text is reduced
to words, so field syntax, wildcards and very long input cannot make a query
expensive, and the work per query is bounded (see kb/search/core.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kb.search.core import (
    CORRECTIONS_CACHED,
    ENGINE_FILE,
    MAX_CORRECTED_WORDS,
    MAX_CORRECTIONS,
    MAX_FUZZY_CHARS,
    MAX_LIMIT,
    MAX_PREFIX_SCAN,
    MAX_PREFIX_TERMS,
    MAX_QUERY_CHARS,
    MAX_QUERY_WORDS,
    SCHEMA_VERSION,
    SEARCH_BUDGET,
    STOP_WORDS,
    SYNONYMS_FILE,
    Hit,
    QueryStats,
    SearchDoc,
    Searcher,
    SearchResult,
    lead,
    result_to_dict,
    snippet,
    words,
)
from kb.search.engines import (
    DEFAULT_ENGINE,
    ENGINES,
    EngineUnavailable,
    available_engines,
    engine_name,
    get_engine,
    indexed_digests,
    is_valid_index,
    update_index,
    write_index,
)
from kb.search.fallback import closest_categories

__all__ = [
    "CORRECTIONS_CACHED",
    "DEFAULT_ENGINE",
    "ENGINES",
    "ENGINE_FILE",
    "MAX_CORRECTED_WORDS",
    "MAX_CORRECTIONS",
    "MAX_FUZZY_CHARS",
    "MAX_LIMIT",
    "MAX_PREFIX_SCAN",
    "MAX_PREFIX_TERMS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "SCHEMA_VERSION",
    "SEARCH_BUDGET",
    "STOP_WORDS",
    "SYNONYMS_FILE",
    "EngineUnavailable",
    "Hit",
    "QueryStats",
    "SearchDoc",
    "SearchResult",
    "Searcher",
    "available_engines",
    "closest_categories",
    "engine_name",
    "get_engine",
    "indexed_digests",
    "is_valid_index",
    "lead",
    "open_searcher",
    "result_to_dict",
    "snippet",
    "stems",
    "update_index",
    "words",
    "write_index",
]


def stems(text: str, engine: str = DEFAULT_ENGINE) -> list[str]:
    """The stemmed, stop-word-free terms of ``text``, exactly as ``engine``'s index
    sees them."""
    return get_engine(engine).analyze(text[:MAX_QUERY_CHARS])


def open_searcher(
    build_dir: Path, *, engine: str | None = None, **options: float | Callable[[], float]
) -> Searcher:
    """A searcher over the current generation of ``build_dir`` (``kb.layout``).

    ``engine`` (e.g. from ``PORTAL_SEARCH_ENGINE``) is checked to be installed, so a
    misconfigured server fails at start with a message saying what to install; the
    index is always read with the engine that wrote it (``portal build`` writes the
    configured one).
    """
    from kb import layout

    if engine is not None:
        get_engine(engine)
    return Searcher(lambda: layout.index_dir(build_dir), **options)  # type: ignore[arg-type]
