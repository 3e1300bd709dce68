"""No dead ends: what a search page offers when a search finds nothing or little.

:func:`closest_categories` ranks the knowledge base's categories for a query (the
manifest's ``categories``): by the words they share with it (typos allowed), then by
how many of the results are in them; when nothing is close, the first categories in
display order, so the page always has somewhere to go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from kb.search.core import STOP_WORDS, words

_WORDS = re.compile(r"[a-z0-9]+")
_CLOSE = 85  # rapidfuzz ratio from which a query word counts as a category word


def _closeness(query_words: list[str], category: Mapping[str, Any]) -> float:
    text = (
        f"{category.get('title', '')} {category.get('description', '')} {category.get('slug', '')}"
    )
    own = set(_WORDS.findall(text.lower())) - STOP_WORDS
    score = 0.0
    for word in query_words:
        if word in own:
            score += 2
        elif any(
            len(word) >= 4 and (w.startswith(word[:5]) or fuzz.ratio(word, w) >= _CLOSE)
            for w in own
        ):
            score += 1
    return score


def closest_categories(
    text: str,
    categories: Sequence[Mapping[str, Any]],
    facets: Mapping[str, int] | None = None,
    *,
    limit: int = 3,
) -> list[Mapping[str, Any]]:
    """At most ``limit`` categories for ``text``, closest first (see the module)."""
    query_words = [w for w in words(text) if w not in STOP_WORDS]
    counts = facets or {}
    scored = [
        (_closeness(query_words, c), counts.get(str(c.get("slug")), 0), -i, c)
        for i, c in enumerate(categories)
    ]
    close = [s for s in scored if s[0] > 0 or s[1] > 0]
    if not close:
        return list(categories[:limit])
    close.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
    return [s[3] for s in close[:limit]]
