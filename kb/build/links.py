"""The link graph, found without rendering: who links to whom, which bodies use policy
directives, the related articles of each page and how often each is linked to."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kb.build.state import State, body, fingerprint
from kb.content import Article

RELATED_LIMIT = 5

_LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+?)\.md(?:#[^)\s>]*)?>?(?:\s+\"[^\"]*\")?\s*\)")


def outgoing_links(body: str) -> list[str]:
    """Slugs of the articles a body links to (cheap, without rendering)."""
    return list(dict.fromkeys(m.rsplit("/", 1)[-1] for m in _LINK_TARGET.findall(body)))


def uses_directives(body: str) -> bool:
    return "{policy}`" in body


@dataclass
class LinkGraph:
    links: dict[str, list[str]]  # slug -> the slugs its body links to
    with_directives: set[str]  # slugs whose bodies use {policy} directives
    related: dict[str, list[str]]  # slug -> up to RELATED_LIMIT related slugs
    inbound: dict[str, int]  # slug -> how many other articles link to it


def link_graph(
    articles: list[Article], state: State, listing: dict[str, str], content_dir: Path
) -> LinkGraph:
    """The graph of the published ``articles``; ``listing`` holds their listing
    digests. Bodies are read only for articles whose file changed."""
    links: dict[str, list[str]] = {}
    with_directives: set[str] = set()
    old = state.links
    state.links = {}
    for a in articles:
        cached = old.get(a.slug)
        if cached is None or cached[0] != a.digest:
            text = body(content_dir, a)
            cached = (a.digest, outgoing_links(text), uses_directives(text))
        state.links[a.slug] = cached
        links[a.slug] = cached[1]
        if cached[2]:
            with_directives.add(a.slug)
    related = _related(articles, links, state, listing)
    return LinkGraph(links, with_directives, related, _inbound(links, {a.slug for a in articles}))


def _inbound(links: dict[str, list[str]], slugs: set[str]) -> dict[str, int]:
    inbound: dict[str, int] = defaultdict(int)
    for source, targets in links.items():
        for target in set(targets):
            if target in slugs and target != source:
                inbound[target] += 1
    return inbound


def _related(
    articles: list[Article],
    links: dict[str, list[str]],
    state: State,
    listing: dict[str, str],
) -> dict[str, list[str]]:
    """Up to RELATED_LIMIT related slugs per article: the articles it links to, then
    same-category articles sharing the most tags. Recomputed only for categories
    whose members changed."""
    by_category: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        by_category[a.category].append(a)
    known = frozenset(a.slug for a in articles)
    known_digest = fingerprint(sorted(known))  # sorted: a set's order changes between runs
    result: dict[str, list[str]] = {}
    cache: dict[str, tuple[str, dict[str, list[str]]]] = {}
    for category, members in by_category.items():
        digest = fingerprint(
            [(listing[a.slug], links.get(a.slug, [])) for a in members], known_digest
        )
        cached = state.related.get(category)
        if cached is not None and cached[0] == digest:
            chosen_by_slug = cached[1]
        else:
            tags_of = {a.slug: set(a.tags) for a in members}
            chosen_by_slug = {a.slug: _related_to(a, tags_of, links, known) for a in members}
        cache[category] = (digest, chosen_by_slug)
        result.update(chosen_by_slug)
    state.related = cache
    return result


def _related_to(
    a: Article,
    tags_of: dict[str, set[str]],
    links: dict[str, list[str]],
    known: frozenset[str],
) -> list[str]:
    """The articles ``a`` links to, then those of its category (the keys of
    ``tags_of``, in order) sharing the most tags with it."""
    linked = [s for s in links.get(a.slug, []) if s in known and s != a.slug]
    chosen = list(dict.fromkeys(linked))[:RELATED_LIMIT]
    if len(chosen) < RELATED_LIMIT and a.tags:
        mine = tags_of[a.slug]
        scored = sorted(
            (-len(mine & tags), slug)
            for slug, tags in tags_of.items()
            if slug != a.slug and slug not in chosen and mine & tags
        )
        chosen += [slug for _, slug in scored[: RELATED_LIMIT - len(chosen)]]
    return chosen
