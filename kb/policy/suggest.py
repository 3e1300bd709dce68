"""Rank request types for a customer's own description of the problem.

Each request type is a small document of three fields: its title, its keywords (what
customers say) and its description. A customer's words are weighted by how distinctive
they are among the policy's own request types (inverse document frequency over the
types, raised to ``IDF_POWER``), so a word only one type uses ("vpn", "perl",
"replication") outweighs words several of them share ("set up", "server", "error").
Per word and type, the occurrences in the three fields add up (BM25F: a title or keyword
occurrence counts twice one in the description, and repeated use saturates), so the
type that names the word in its title and keywords beats one that mentions it in
passing. A keyword phrase found whole in the text adds the weight of its words again.
Words customers put in any story ("please", "shows", "suddenly") are ignored.

Synonyms are matched as whole terms: a multi-word term ("log in to my server") stands
for its group only where all its words appear in a row, so a common word inside it
("server") never drags in the rest of the group. A multi-word synonym in the text is
one unit: it scores as its group or as its words, whichever matches a type better, never
both. A word that is in no request type may be a typo of one that is (one edit or
transposition, same first letter).

Pure: the derived index is cached per policy object (``Policy`` is hashed by identity)
and synonym table. ``bench/triage_accuracy.py`` measures the ranking on customer
phrasings for the demo policy and every example pack (``bench/triage/``).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from kb.policy.model import Policy, RequestType
from kb.search import stems

FIELD_WEIGHTS = {"title": 2.0, "keywords": 2.0, "description": 1.0}
SATURATION = 4.0  # BM25 k1 over the weighted field counts: more mentions, less gain each
# a word's weight is its IDF to this power: with a few dozen short texts, plain IDF
# barely tells a word of one type ("vpn") from a word of three ("set up")
IDF_POWER = 1.5
EXACT, SYNONYM, TYPO = 1.0, 0.8, 0.7  # how much a word's readings count
PHRASE_BONUS = 1.0  # a keyword found whole adds this times the weight of its words
MIN_TYPO_CHARS = 4
# words customers add to any request; they say nothing about which kind it is
_FILLER_WORDS = (
    "i im me my mine our ours we please help need want would like can could get got "
    "do does did how what why there here just some "
    # words of any story: with a few dozen short texts, one may hold them by chance
    "show shows showing keep keeps since today yesterday now anymore suddenly really "
    "very also still seem seems look looks try tried thing things way know think say "
    "tell ok okay sorry nothing anything something"
)
FILLER = frozenset(s for word in _FILLER_WORDS.split() for s in stems(word))
# "don't like" is a word of its own ("dislike"), not a stop word and a filler word
_DISLIKE = re.compile(r"\b(?:do|does|did)(?:\s*n['’]?t|\s+not)\s+like\b", re.IGNORECASE)
_GROUP = "~"  # prefix of synonym-group features (stems() never starts a word with it)

Synonyms = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Suggestion:
    request_type: RequestType
    score: float


@dataclass(frozen=True)
class _SynonymTable:
    # stemmed term -> its groups' features ("~3"), for terms of one stem and of several
    single: Mapping[str, tuple[str, ...]]
    multi: Mapping[tuple[str, ...], tuple[str, ...]]
    longest: int

    def features(self, seq: list[str]) -> list[str]:
        """The group features of every term that occurs in seq (whole, in a row)."""
        found: list[str] = []
        for i, s in enumerate(seq):
            found += self.single.get(s, ())
            for n in range(2, min(self.longest, len(seq) - i) + 1):
                found += self.multi.get(tuple(seq[i : i + n]), ())
        return found


@dataclass(frozen=True)
class _Type:
    fields: dict[str, Counter[str]]  # field -> feature counts
    phrases: tuple[tuple[str, ...], ...]  # stemmed keywords of more than one word


@dataclass(frozen=True)
class _Index:
    types: dict[str, _Type]
    weights: dict[str, float]  # feature -> IDF over the types, to the IDF_POWER
    stems: frozenset[str]  # every stem of every request type (typo targets)
    synonyms: _SynonymTable


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


def _words(text: str) -> list[str]:
    """The stems of ``text`` as the scorer sees them."""
    return stems(_DISLIKE.sub("dislike", text))


@functools.lru_cache(maxsize=32)
def _synonym_table(synonyms: Synonyms) -> _SynonymTable:
    single: dict[str, list[str]] = {}
    multi: dict[tuple[str, ...], list[str]] = {}
    for n, group in enumerate(synonyms):
        for term in group:
            seq = tuple(_words(term))
            if len(seq) == 1:
                single.setdefault(seq[0], []).append(f"{_GROUP}{n}")
            elif seq:
                multi.setdefault(seq, []).append(f"{_GROUP}{n}")
    return _SynonymTable(
        {k: tuple(dict.fromkeys(v)) for k, v in single.items()},
        {k: tuple(dict.fromkeys(v)) for k, v in multi.items()},
        max((len(k) for k in multi), default=1),
    )


def _features(text: str, table: _SynonymTable) -> Counter[str]:
    seq = _words(text)
    return Counter(seq + table.features(seq))


@functools.lru_cache(maxsize=16)
def _index(policy: Policy, synonyms: Synonyms) -> _Index:
    table = _synonym_table(synonyms)
    types: dict[str, _Type] = {}
    df: Counter[str] = Counter()
    for rt in policy.request_types.values():
        keywords: Counter[str] = Counter()
        for k in rt.keywords:
            keywords.update(_features(k, table))
        fields = {
            "title": _features(rt.title, table),
            "keywords": keywords,
            "description": _features(rt.description, table),
        }
        phrases = tuple(p for p in (tuple(_words(k)) for k in rt.keywords) if len(p) > 1)
        types[rt.id] = _Type(fields, phrases)
        df.update(set().union(*fields.values()))
    n = len(types)
    weights = {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) ** IDF_POWER for f, d in df.items()}
    all_stems = frozenset(f for f in df if not f.startswith(_GROUP))
    return _Index(types, weights, all_stems, table)


def _readings(word: str, index: _Index) -> dict[str, float]:
    """The features one query word stands for, with how much each counts."""
    found: dict[str, float] = {}
    if word in index.stems:
        found[word] = EXACT
    elif len(word) >= MIN_TYPO_CHARS:
        for v in index.stems:
            if v[0] == word[0] and _edit1(word, v):  # typos rarely hit the first letter
                found[v] = TYPO
    for feature in index.synonyms.single.get(word, ()):
        found[feature] = max(found.get(feature, 0.0), SYNONYM)
    return found


@dataclass(frozen=True)
class _Unit:
    """One query word, or a multi-word synonym term found whole in the query: that
    scores as its group or as its words, whichever matches a type better."""

    words: tuple[dict[str, float], ...]  # per word: feature -> how much it counts
    group: dict[str, float] | None = None


def _units(query: list[str], index: _Index) -> list[_Unit]:
    table = index.synonyms
    units: list[_Unit] = []
    seen: set[tuple[str, ...]] = set()
    i = 0
    while i < len(query):
        span = next(
            (
                n
                for n in range(min(table.longest, len(query) - i), 1, -1)
                if tuple(query[i : i + n]) in table.multi
            ),
            1,
        )
        words = tuple(query[i : i + span])
        i += span
        if words in seen or all(w in FILLER for w in words):
            continue
        seen.add(words)
        group = dict.fromkeys(table.multi[words], SYNONYM) if span > 1 else None
        units.append(_Unit(tuple(_readings(w, index) for w in words if w not in FILLER), group))
    return units


def _score(readings: dict[str, float], t: _Type, weights: dict[str, float]) -> float:
    """BM25F: the best reading's weight times its saturated, field-weighted count in t."""
    best = 0.0
    for feature, w in readings.items():
        tf = sum(FIELD_WEIGHTS[f] * c[feature] for f, c in t.fields.items() if feature in c)
        if tf:
            best = max(best, w * weights[feature] * (SATURATION + 1) * tf / (tf + SATURATION))
    return best


def suggest(
    policy: Policy,
    text: str,
    *,
    synonyms: Synonyms = (),
    limit: int = 5,
) -> list[Suggestion]:
    """The request types that best match ``text``, best first (only those that match)."""
    index = _index(policy, synonyms)
    query = _words(text)
    units = _units(query, index)
    if not units:
        return []
    joined = f" {' '.join(query)} "
    scored: list[Suggestion] = []
    for rt_id, t in index.types.items():
        score = 0.0
        for unit in units:
            words = sum(_score(r, t, index.weights) for r in unit.words)
            score += max(words, _score(unit.group, t, index.weights)) if unit.group else words
        if score <= 0:
            continue
        for phrase in t.phrases:
            if f" {' '.join(phrase)} " in joined:
                score += PHRASE_BONUS * sum(index.weights.get(s, 0.0) for s in phrase)
        scored.append(Suggestion(policy.request_types[rt_id], score))
    scored.sort(key=lambda s: (-s.score, s.request_type.id))
    return scored[:limit]
