"""Rank request types for a customer's own description of the problem.

A small BM25-style scorer over each request type's title, customer phrasings
(keywords) and description, with the content's synonyms and tolerance for one typo.
Pure: the index is derived from the policy and cached by its digest.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass

from kb.policy.model import Policy, RequestType
from kb.search import stems

FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.5, "description": 1.0}
# words customers add to any request; they say nothing about which kind it is
_FILLER_WORDS = (
    "i im me my mine our ours we please help need want would like can could get got "
    "do does did how what why there here just some"
)
FILLER = frozenset(s for word in _FILLER_WORDS.split() for s in stems(word))
PHRASE_BONUS = 2.0


@dataclass(frozen=True)
class Suggestion:
    request_type: RequestType
    score: float


@dataclass(frozen=True)
class _Index:
    fields: dict[str, dict[str, Counter[str]]]  # rt id -> field -> term counts
    phrases: dict[str, tuple[tuple[str, ...], ...]]  # rt id -> stemmed keyword phrases
    df: Counter[str]
    vocabulary: frozenset[str]
    synonyms: dict[str, tuple[str, ...]]


def _edit1(a: str, b: str) -> bool:
    """True when a and b differ by at most one edit (or one transposition)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


@functools.lru_cache(maxsize=16)
def _index(policy: Policy, synonyms: tuple[tuple[str, ...], ...]) -> _Index:
    fields: dict[str, dict[str, Counter[str]]] = {}
    phrases: dict[str, tuple[tuple[str, ...], ...]] = {}
    df: Counter[str] = Counter()
    for rt in policy.request_types.values():
        entry = {
            "title": Counter(stems(rt.title)),
            "keywords": Counter(s for k in rt.keywords for s in stems(k)),
            "description": Counter(stems(rt.description)),
        }
        fields[rt.id] = entry
        phrases[rt.id] = tuple(tuple(stems(k)) for k in rt.keywords if len(stems(k)) > 1)
        for term in set().union(*[set(c) for c in entry.values()]):
            df[term] += 1
    expanded: dict[str, tuple[str, ...]] = {}
    for group in synonyms:
        group_stems = [s for term in group for s in stems(term)]
        for s in group_stems:
            expanded[s] = tuple(dict.fromkeys(x for x in group_stems if x != s))
    return _Index(fields, phrases, df, frozenset(df), expanded)


def suggest(
    policy: Policy,
    text: str,
    *,
    synonyms: tuple[tuple[str, ...], ...] = (),
    limit: int = 5,
) -> list[Suggestion]:
    """The request types that best match ``text``, best first (only those that match)."""
    index = _index(policy, synonyms)
    query = [q for q in stems(text) if q not in FILLER]
    if not query:
        return []
    n = len(index.fields)
    terms: dict[str, float] = {}
    for q in query:
        if q in index.vocabulary:
            terms[q] = max(terms.get(q, 0), 1.0)
        elif len(q) >= 4:
            for v in index.vocabulary:
                if _edit1(q, v):
                    terms[v] = max(terms.get(v, 0), 0.7)
        for alt in index.synonyms.get(q, ()):
            terms[alt] = max(terms.get(alt, 0), 0.8)
    scored: list[Suggestion] = []
    for rt_id, entry in index.fields.items():
        score = 0.0
        for term, weight in terms.items():
            df = index.df.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            best = max(
                (
                    FIELD_WEIGHTS[f] * (c[term] / (c[term] + 1.0))
                    for f, c in entry.items()
                    if term in c
                ),
                default=0.0,
            )
            score += weight * idf * best
        if score <= 0:
            continue
        joined = " ".join(query)
        for phrase in index.phrases[rt_id]:
            if " ".join(phrase) in joined:
                score += PHRASE_BONUS * len(phrase)
        scored.append(Suggestion(policy.request_types[rt_id], score))
    scored.sort(key=lambda s: (-s.score, s.request_type.id))
    return scored[:limit]
