"""Relevance on the development set ../shared/eval/search-dev.tsv (recall@3 >= 0.9), for
both engines. The real corpus (bench/queries-real.tsv) is measured by `make bench`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import layout
from kb.build import BuildOptions, build
from kb.search import ENGINES, Searcher
from tests.conftest import CONTENT

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "search-dev.tsv"


def load_eval() -> list[tuple[str, set[str]]]:
    rows = []
    for line in EVAL.read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        query, expected = line.split("\t")
        rows.append((query, set(expected.split("|"))))
    return rows


@pytest.mark.skipif(not EVAL.exists(), reason="shared/eval is not beside the checkout")
@pytest.mark.parametrize("engine", ENGINES)
def test_recall_at_3_and_mrr(engine: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(
        BuildOptions(
            content_dir=CONTENT,
            out_dir=out,
            use_git_dates=False,
            search_engine=engine,
            static_search=False,
        )
    )
    searcher = Searcher(lambda: layout.index_dir(out))
    rows = load_eval()
    hits3 = 0
    reciprocal = 0.0
    misses = []
    for query, expected in rows:
        found = [h.slug for h in searcher.search(query, limit=10).hits]
        rank = next((i for i, slug in enumerate(found, 1) if slug in expected), None)
        if rank and rank <= 3:
            hits3 += 1
        else:
            misses.append((query, expected, found[:3]))
        reciprocal += 1 / rank if rank else 0
    recall = hits3 / len(rows)
    mrr = reciprocal / len(rows)
    print(f"\n{engine} search-dev: {len(rows)} queries, recall@3={recall:.3f}, MRR={mrr:.3f}")
    assert recall >= 0.9, misses
    assert mrr >= 0.85, misses
