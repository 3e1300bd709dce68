"""What one build leaves for the next (``OUT/.cache/state.pickle``), and loading the
content through it: a file whose size and mtime did not change is not read again."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from kb import content as content_mod
from kb import layout
from kb.build.options import BuildOptions
from kb.content import Article, Content
from kb.gitdates import last_commit_dates


def fingerprint(*parts: object) -> str:
    """A digest of the parts' reprs: every cache key and page fingerprint is one."""
    h = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        h.update(repr(part).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class State:
    """What the previous build knew, kept in OUT/.cache/state.pickle."""

    version: int = 5
    # content file -> (mtime_ns, size, digest)
    stats: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    parsed: content_mod.ParsedCache = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # output page -> fingerprint
    # slug -> (digest, outgoing link slugs, uses policy directives)
    links: dict[str, tuple[str, list[str], bool]] = field(default_factory=dict)
    related: dict[str, tuple[str, dict[str, list[str]]]] = field(default_factory=dict)
    index_digests: dict[str, str] = field(default_factory=dict)  # slug -> search doc digest
    # slug -> ((file digest, updated), listing digest)
    listing: dict[str, tuple[tuple[str, dt.date | None], str]] = field(default_factory=dict)
    env_digest: str = ""
    # Pagefind bundle -> digest of its articles' pages (kb/build/static_search.py)
    static_search: dict[str, str] = field(default_factory=dict)


def load_state(out_dir: Path) -> State:
    path = out_dir / layout.CACHE / "state.pickle"
    try:
        with path.open("rb") as fh:
            state = pickle.load(fh)  # noqa: S301 - our own cache file
        if isinstance(state, State) and state.version == State.version:
            return state
    # ImportError/AttributeError: a cache pickled by a version whose classes moved
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        TypeError,
    ):
        pass
    return State()


def save_state(out_dir: Path, state: State) -> None:
    cache = out_dir / layout.CACHE
    cache.mkdir(parents=True, exist_ok=True)
    # bodies are re-read from disk when needed; keeping them would bloat the cache
    slim: content_mod.ParsedCache = {}
    for rel, (digest, article, problems) in state.parsed.items():
        if article is not None:
            article = Article(**{**article.__dict__, "body": ""})
        slim[rel] = (digest, article, problems)
    saved = State(**{**state.__dict__, "parsed": slim})
    tmp = cache / "state.pickle.tmp"
    with tmp.open("wb") as fh:
        pickle.dump(saved, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache / "state.pickle")


def load_content(options: BuildOptions, state: State) -> Content:
    """Load content, re-reading only files whose size or mtime changed."""
    root = options.content_dir
    stats: dict[str, tuple[int, int, str]] = {}
    for rel, full in content_mod.article_files(root):
        st = os.stat(full)
        old = state.stats.get(rel)
        if old and old[0] == st.st_mtime_ns and old[1] == st.st_size and rel in state.parsed:
            stats[rel] = old
            continue
        with open(full, "rb") as fh:
            data = fh.read()
        digest = content_mod.digest(data)
        cached = state.parsed.get(rel)
        if not cached or cached[0] != digest:
            article, problems = content_mod.parse_article(rel, data)
            state.parsed[rel] = (digest, article, problems)
        stats[rel] = (st.st_mtime_ns, st.st_size, digest)
    state.stats = stats
    for rel in set(state.parsed) - set(stats):
        del state.parsed[rel]
    git_dates = last_commit_dates(root) if options.use_git_dates else {}
    return content_mod.assemble(root, state.parsed, git_dates)


def body(content_dir: Path, article: Article) -> str:
    """The article's Markdown body (cached articles keep no body)."""
    if article.body:
        return article.body
    data = (content_dir / article.path).read_bytes()
    parsed, _ = content_mod.parse_article(article.path, data)
    return parsed.body if parsed else ""
