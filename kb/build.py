"""``portal build``: content files -> static site + search index, incrementally.

Stages (each a small function): load content -> decide what changed -> render the
articles that changed -> write pages whose inputs changed -> update the index ->
write the manifest -> swap the generation in.

Incremental builds start from a hard-linked copy of the previous generation, so an
unchanged page costs one ``link()``; a page is rewritten only when its fingerprint
(a hash of everything shown on it) changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import multiprocessing
import os
import pickle
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import jinja2

from kb import content as content_mod
from kb import layout, search
from kb.content import Article, Category, Content
from kb.gitdates import last_commit_dates
from kb.render import DirectiveResolver, Rendered, render_markdown

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATES = PROJECT_ROOT / "templates"
DEFAULT_STATIC = PROJECT_ROOT / "static"
KEEP_GENERATIONS = 3
PARALLEL_THRESHOLD = 300
RELATED_LIMIT = 5
RECENT_LIMIT = 8


@dataclass
class BuildOptions:
    content_dir: Path
    out_dir: Path
    templates_dir: Path = DEFAULT_TEMPLATES
    static_dir: Path = DEFAULT_STATIC
    base_url: str = "http://127.0.0.1:8000/"
    site_name: str = "Support Portal"
    clean: bool = False
    include_drafts: bool = False
    preview: bool = False  # pages load the live-reload script
    procs: int = max(1, os.cpu_count() or 1)
    directive: DirectiveResolver | None = None
    directive_digest: str = ""  # changes when the facts behind directives change
    use_git_dates: bool = True
    progress: Callable[[int, int], None] | None = None


@dataclass
class BuildReport:
    articles: int = 0
    drafts_skipped: int = 0
    rendered: int = 0
    pages_written: int = 0
    pages_kept: int = 0
    pages_removed: int = 0
    indexed: int = 0
    index_removed: int = 0
    full: bool = True
    seconds: float = 0.0
    generation: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kind = "full" if self.full else "incremental"
        return (
            f"{kind} build: {self.articles} articles ({self.rendered} rendered), "
            f"{self.pages_written} pages written, {self.pages_kept} unchanged, "
            f"{self.pages_removed} removed; index: {self.indexed} updated, "
            f"{self.index_removed} removed; {self.seconds:.2f} s"
        )


def _hash(*parts: object) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        h.update(repr(part).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def article_path(slug: str) -> str:
    return f"articles/{slug}.html"


def category_path(slug: str) -> str:
    return f"categories/{slug}.html"


def tag_path(tag: str) -> str:
    return f"tags/{tag}.html"


def tag_file_name(tag: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in tag).strip("-") or "tag"


# --- state kept between builds -----------------------------------------------------


@dataclass
class _State:
    """What the previous build knew, kept in OUT/.cache/state.pickle."""

    version: int = 4
    stats: dict[str, tuple[int, int, str]] = field(
        default_factory=dict
    )  # path -> mtime,size,digest
    parsed: content_mod.ParsedCache = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # output page -> fingerprint
    # slug -> (digest, outgoing link slugs, uses policy directives)
    links: dict[str, tuple[str, list[str], bool]] = field(default_factory=dict)
    related: dict[str, tuple[str, dict[str, list[str]]]] = field(default_factory=dict)
    index_digests: dict[str, str] = field(default_factory=dict)  # slug -> search doc digest
    # slug -> ((file digest, updated), listing digest)
    listing: dict[str, tuple[Any, str]] = field(default_factory=dict)
    env_digest: str = ""


def _load_state(out_dir: Path) -> _State:
    path = out_dir / layout.CACHE / "state.pickle"
    try:
        with path.open("rb") as fh:
            state = pickle.load(fh)  # noqa: S301 - our own cache file
        if isinstance(state, _State) and state.version == _State.version:
            return state
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        pass
    return _State()


def _save_state(out_dir: Path, state: _State) -> None:
    cache = out_dir / layout.CACHE
    cache.mkdir(parents=True, exist_ok=True)
    # bodies are re-read from disk when needed; keeping them would bloat the cache
    slim: content_mod.ParsedCache = {}
    for rel, (digest, article, problems) in state.parsed.items():
        if article is not None:
            article = Article(**{**article.__dict__, "body": ""})
        slim[rel] = (digest, article, problems)
    saved = _State(**{**state.__dict__, "parsed": slim})
    tmp = cache / "state.pickle.tmp"
    with tmp.open("wb") as fh:
        pickle.dump(saved, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache / "state.pickle")


@contextlib.contextmanager
def _build_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- loading with a stat cache -----------------------------------------------------


def _load_content(options: BuildOptions, state: _State) -> Content:
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


def _body(options: BuildOptions, article: Article) -> str:
    """The article's Markdown body (cached articles keep no body)."""
    if article.body:
        return article.body
    data = (options.content_dir / article.path).read_bytes()
    parsed, _ = content_mod.parse_article(article.path, data)
    return parsed.body if parsed else ""


# --- rendering -----------------------------------------------------------------------


def _render_one(
    args: tuple[str, str, int, frozenset[str], DirectiveResolver | None],
) -> tuple[str, Rendered]:
    slug, body, body_line, slugs, directive = args

    def url(target: str) -> str | None:
        return f"{target}.html" if target in slugs else None

    return slug, render_markdown(body, body_line=body_line, article_url=url, directive=directive)


def _render_many(
    jobs: list[tuple[str, str, int, frozenset[str], DirectiveResolver | None]], procs: int
) -> dict[str, Rendered]:
    if procs > 1 and len(jobs) >= PARALLEL_THRESHOLD:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
            return dict(pool.map(_render_one, jobs, chunksize=64))
    return dict(map(_render_one, jobs))


# --- listings and relations --------------------------------------------------------


def listing_digest(article: Article) -> str:
    """Changes whenever anything a listing shows about the article changes."""
    return _hash(
        article.slug,
        article.title,
        article.summary,
        article.category,
        article.tags,
        article.updated,
        article.draft,
    )


def _related(
    articles: list[Article],
    links: dict[str, list[str]],
    state: _State,
    listing: dict[str, str],
) -> dict[str, list[str]]:
    """Up to RELATED_LIMIT related slugs per article: the articles it links to, then
    same-category articles sharing the most tags. Recomputed only for categories
    whose members changed."""
    by_category: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        by_category[a.category].append(a)
    known = frozenset(a.slug for a in articles)
    known_digest = _hash(sorted(known))  # sorted: a set's order changes between processes
    result: dict[str, list[str]] = {}
    cache: dict[str, tuple[str, dict[str, list[str]]]] = {}
    for category, members in by_category.items():
        digest = _hash([(listing[a.slug], links.get(a.slug, [])) for a in members], known_digest)
        cached = state.related.get(category)
        if cached is not None and cached[0] == digest:
            chosen_by_slug = cached[1]
        else:
            chosen_by_slug = {}
            tags_of = {a.slug: set(a.tags) for a in members}
            for a in members:
                linked = [s for s in links.get(a.slug, []) if s in known and s != a.slug]
                chosen = list(dict.fromkeys(linked))[:RELATED_LIMIT]
                if len(chosen) < RELATED_LIMIT and a.tags:
                    mine = tags_of[a.slug]
                    scored = sorted(
                        (-len(mine & tags_of[b.slug]), b.slug)
                        for b in members
                        if b.slug != a.slug and b.slug not in chosen and mine & tags_of[b.slug]
                    )
                    chosen += [slug for _, slug in scored[: RELATED_LIMIT - len(chosen)]]
                chosen_by_slug[a.slug] = chosen
        cache[category] = (digest, chosen_by_slug)
        result.update(chosen_by_slug)
    state.related = cache
    return result


_LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+?)\.md(?:#[^)\s>]*)?>?(?:\s+\"[^\"]*\")?\s*\)")


def outgoing_links(body: str) -> list[str]:
    """Slugs of the articles a body links to (cheap, without rendering)."""
    return list(dict.fromkeys(m.rsplit("/", 1)[-1] for m in _LINK_TARGET.findall(body)))


def uses_directives(body: str) -> bool:
    return "{policy}`" in body


# --- writing ---------------------------------------------------------------------------


class _Writer:
    """Writes pages into the new generation's site directory, skipping unchanged ones."""

    def __init__(
        self, site: Path, old: dict[str, str], report: BuildReport, existing: set[str]
    ) -> None:
        self.site = site
        self.old = old
        self.new: dict[str, str] = {}
        self.report = report
        self.existing = existing  # files already in the new generation (hard links)

    def needs(self, path: str, fingerprint: str) -> bool:
        self.new[path] = fingerprint
        if self.old.get(path) == fingerprint and path in self.existing:
            self.report.pages_kept += 1
            return False
        return True

    def write(self, path: str, text: str | bytes) -> None:
        target = self.site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        data = text.encode("utf-8") if isinstance(text, str) else text
        tmp.write_bytes(data)
        # replace, never write in place: the file may be a hard link into the
        # previous generation, which a running server may still be reading
        os.replace(tmp, target)
        self.report.pages_written += 1

    def remove_stale(self) -> None:
        for path in set(self.old) - set(self.new):
            with contextlib.suppress(FileNotFoundError):
                (self.site / path).unlink()
                self.report.pages_removed += 1


def _hardlink_tree(src: Path, dst: Path) -> set[str]:
    """Hard-link every file of src into dst; returns their paths relative to dst."""
    source, target = str(src), str(dst)
    linked: set[str] = set()
    for dirpath, _dirnames, filenames in os.walk(source):
        rel_dir = dirpath[len(source) + 1 :]
        target_dir = os.path.join(target, rel_dir) if rel_dir else target
        os.makedirs(target_dir, exist_ok=True)
        prefix = rel_dir.replace(os.sep, "/") + "/" if rel_dir else ""
        for name in filenames:
            if name.endswith(".tmp") or name.endswith("WRITELOCK"):
                continue
            os.link(os.path.join(dirpath, name), os.path.join(target_dir, name))
            linked.add(prefix + name)
    return linked


def _environment(options: BuildOptions) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(options.templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(site_name=options.site_name, static_site=True, preview=options.preview)
    env.filters["tagfile"] = tag_file_name
    return env


def _env_digest(options: BuildOptions) -> str:
    parts: list[object] = [
        _State.version,
        search.SCHEMA_VERSION,
        options.base_url,
        options.site_name,
        options.include_drafts,
        options.preview,
    ]
    for base in (options.templates_dir, options.static_dir):
        for path in sorted(base.rglob("*")):
            if path.is_file():
                st = path.stat()
                parts.append((str(path.relative_to(base)), st.st_size, st.st_mtime_ns))
    return _hash(*parts)


def _copy_static(options: BuildOptions, writer: _Writer) -> None:
    if not options.static_dir.is_dir():
        return
    for path in sorted(options.static_dir.rglob("*")):
        if path.is_file():
            rel = "static/" + path.relative_to(options.static_dir).as_posix()
            st = path.stat()
            if writer.needs(rel, _hash(st.st_size, st.st_mtime_ns)):
                writer.write(rel, path.read_bytes())


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _manifest(
    content: Content, published: list[Article], related: dict[str, list[str]]
) -> dict[str, Any]:
    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "categories": [
            {"slug": c.slug, "title": c.title, "description": c.description, "order": c.order}
            for c in sorted(content.categories.values(), key=lambda c: (c.order, c.title))
        ],
        "articles": [
            {
                "slug": a.slug,
                "title": a.title,
                "summary": a.summary,
                "category": a.category,
                "url": article_path(a.slug),
                "tags": a.tags,
                "keywords": a.keywords,
                "request_types": a.request_types,
                "updated": _date(a.updated),
                "draft": a.draft,
                "related": related.get(a.slug, []),
            }
            for a in published
        ],
        "aliases": {alias: a.slug for a in published for alias in a.aliases},
    }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    # no indent: json's C encoder only runs without one
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
    os.replace(tmp, path)


def _swap(out_dir: Path, generation: Path) -> None:
    link = out_dir / layout.CURRENT
    tmp = out_dir / f".{layout.CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(generation.name, tmp)
    os.replace(tmp, link)


def _prune(out_dir: Path, keep: Path) -> None:
    """Remove old generations, keeping the newest KEEP_GENERATIONS (a server may still
    be reading a recent one) and any younger than a minute."""
    generations = sorted(
        (p for p in out_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name, reverse=True
    )
    now = time.time()
    for old in generations[KEEP_GENERATIONS:]:
        if old != keep and now - old.stat().st_mtime > 60:
            shutil.rmtree(old, ignore_errors=True)


def _new_generation(out_dir: Path) -> Path:
    path = out_dir / f"gen-{time.time_ns():020d}"
    path.mkdir(parents=True)
    return path


def build(options: BuildOptions) -> BuildReport:
    """Build the site and index into ``options.out_dir``; see the module docstring."""
    started = time.perf_counter()
    report = BuildReport()
    out = options.out_dir
    with _build_lock(out):
        state = _State() if options.clean else _load_state(out)
        env_digest = _env_digest(options)
        previous = None if options.clean else layout.current_generation(out)
        if previous is not None and not search.is_valid_index(previous / layout.INDEX):
            previous = None  # missing, corrupted or an older schema: build it all again
        if previous is None or state.env_digest != env_digest:
            state.fingerprints = {}
        report.full = previous is None or state.env_digest != env_digest
        content = _load_content(options, state)
        report.problems = [str(p) for p in content.problems]
        generation = _new_generation(out)
        site = generation / layout.SITE
        index_path = generation / layout.INDEX
        existing: set[str] = set()
        if previous is not None:
            existing = _hardlink_tree(previous / layout.SITE, site)
            _hardlink_tree(previous / layout.INDEX, index_path)
        site.mkdir(parents=True, exist_ok=True)
        try:
            _build_into(options, state, content, site, index_path, previous, report, existing)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        state.env_digest = env_digest
        _swap(out, generation)
        _prune(out, generation)
        _save_state(out, state)
    report.generation = str(generation)
    report.seconds = time.perf_counter() - started
    return report


def _build_into(
    options: BuildOptions,
    state: _State,
    content: Content,
    site: Path,
    index_path: Path,
    previous: Path | None,
    report: BuildReport,
    existing: set[str],
) -> None:
    env = _environment(options)
    writer = _Writer(site, state.fingerprints, report, existing)
    seen: set[str] = set()
    published: list[Article] = []
    for a in content.articles:
        if a.draft and not options.include_drafts:
            report.drafts_skipped += 1
        elif a.slug in seen or a.category not in content.categories:
            continue  # reported by the checker; the first one wins
        else:
            seen.add(a.slug)
            published.append(a)
    report.articles = len(published)
    slugs = frozenset(seen)
    by_slug = {a.slug: a for a in published}

    # links and relations, without rendering
    links: dict[str, list[str]] = {}
    has_directives: set[str] = set()
    old_links = state.links
    state.links = {}
    for a in published:
        cached = old_links.get(a.slug)
        if cached is None or cached[0] != a.digest:
            body = _body(options, a)
            cached = (a.digest, outgoing_links(body), uses_directives(body))
        state.links[a.slug] = cached
        links[a.slug] = cached[1]
        if cached[2]:
            has_directives.add(a.slug)
    # listing digests only change with the file or its git date: reuse last build's
    old_listing = state.listing
    state.listing = {}
    listing: dict[str, str] = {}
    for a in published:
        key = (a.digest, a.updated)
        cached_listing = old_listing.get(a.slug)
        if cached_listing is None or cached_listing[0] != key:
            cached_listing = (key, listing_digest(a))
        state.listing[a.slug] = cached_listing
        listing[a.slug] = cached_listing[1]
    related = _related(published, links, state, listing)
    inbound: dict[str, int] = defaultdict(int)
    for source, targets in links.items():
        for target in set(targets):
            if target in slugs and target != source:
                inbound[target] += 1

    # which articles need rendering: changed pages or changed index documents
    # article bodies for the portal to embed live beside the generations (not inside
    # them: hard-linking ten thousand of them per build would cost more than it saves);
    # each one is replaced atomically
    fragments_dir = options.out_dir / layout.FRAGMENTS
    fragment_files = set(os.listdir(fragments_dir)) if fragments_dir.is_dir() else set()
    page_fp: dict[str, str] = {}
    doc_digest: dict[str, str] = {}
    to_render: list[Article] = []
    for a in published:
        uses = a.slug in has_directives
        category = content.categories[a.category]
        page_fp[a.slug] = _hash(
            a.digest,
            a.updated,
            category.title,
            [(r, listing[r]) for r in related.get(a.slug, []) if r in by_slug],
            [(s, s in slugs) for s in links.get(a.slug, [])],
            options.directive_digest if uses else "",
        )
        doc_digest[a.slug] = _hash(
            a.digest, category.title, options.directive_digest if uses else ""
        )
        page_changed = writer.needs(article_path(a.slug), page_fp[a.slug])
        doc_changed = state.index_digests.get(a.slug) != doc_digest[a.slug] or previous is None
        fragment_missing = f"{a.slug}.html" not in fragment_files
        if page_changed or doc_changed or fragment_missing:
            to_render.append(a)
    jobs = [(a.slug, _body(options, a), a.body_line, slugs, options.directive) for a in to_render]
    rendered = _render_many(jobs, options.procs)
    report.rendered = len(rendered)

    # article pages, and their bodies as fragments for the portal to embed
    template = env.get_template("site/article.html")
    fragments = fragments_dir
    fragments.mkdir(exist_ok=True)
    for stale in set(p.stem for p in fragments.glob("*.html")) - slugs:
        (fragments / f"{stale}.html").unlink()
    total = len(to_render)
    for done, a in enumerate(to_render, start=1):
        path = article_path(a.slug)
        if writer.old.get(path) != page_fp[a.slug] or not (site / path).exists():
            writer.write(
                path,
                template.render(
                    root="../",
                    article=a,
                    category=content.categories[a.category],
                    body=rendered[a.slug].html,
                    related=[by_slug[r] for r in related.get(a.slug, []) if r in by_slug],
                    canonical=options.base_url + path,
                ),
            )
        _write_fragment(fragments / f"{a.slug}.html", rendered[a.slug].html)
        if options.progress and total > 500 and (done % 200 == 0 or done == total):
            options.progress(done, total)

    _write_listings(options, env, writer, content, published, inbound, listing)

    # search index
    docs = [
        search.SearchDoc(
            slug=a.slug,
            title=a.title,
            summary=a.summary,
            body=rendered[a.slug].text,
            category=a.category,
            category_title=content.categories[a.category].title,
            url=article_path(a.slug),
            digest=doc_digest[a.slug],
            keywords=tuple(a.keywords),
            tags=tuple(a.tags),
        )
        for a in to_render
        if state.index_digests.get(a.slug) != doc_digest[a.slug] or previous is None
    ]
    if previous is None:
        report.indexed = search.write_index(
            index_path, docs, content.synonyms, procs=options.procs if len(docs) > 500 else 1
        )
        state.index_digests = {}
    else:
        removed = [s for s in state.index_digests if s not in slugs]
        report.indexed, report.index_removed = search.update_index(
            index_path, docs, removed, content.synonyms
        )
    state.index_digests = {a.slug: doc_digest[a.slug] for a in published}
    writer.remove_stale()
    state.fingerprints = writer.new
    _write_json(site.parent / layout.MANIFEST, _manifest(content, published, related))


_RELATIVE_ARTICLE = re.compile(r'href="([a-z0-9][\w-]*\.html(?:#[^"]*)?)"')


def _write_fragment(path: Path, html: str) -> None:
    """An article body for embedding in portal pages: article links made site-absolute."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(_RELATIVE_ARTICLE.sub(r'href="/articles/\1"', html), "utf-8")
    os.replace(tmp, path)


def _write_listings(
    options: BuildOptions,
    env: jinja2.Environment,
    writer: _Writer,
    content: Content,
    published: list[Article],
    inbound: dict[str, int],
    listing: dict[str, str],
) -> None:
    categories = sorted(content.categories.values(), key=lambda c: (c.order, c.title))
    in_category: dict[str, list[Article]] = defaultdict(list)
    with_tag: dict[str, list[Article]] = defaultdict(list)
    for a in sorted(published, key=lambda a: a.title.lower()):
        in_category[a.category].append(a)
        for tag in a.tags:
            with_tag[tag].append(a)
    categories = [c for c in categories if in_category.get(c.slug)]
    recent = sorted(
        (a for a in published if a.updated), key=lambda a: (a.updated, a.slug), reverse=True
    )[:RECENT_LIMIT]
    popular = sorted(published, key=lambda a: (-inbound.get(a.slug, 0), a.title.lower()))[:8]
    popular = [a for a in popular if inbound.get(a.slug)]

    def digests(items: list[Article]) -> list[str]:
        return [listing[a.slug] for a in items]

    cat_summary = [
        (c.slug, c.title, c.description, digests(in_category[c.slug][:5]), len(in_category[c.slug]))
        for c in categories
    ]
    if writer.needs("index.html", _hash(cat_summary, digests(recent), digests(popular))):
        writer.write(
            "index.html",
            env.get_template("site/home.html").render(
                root="",
                categories=categories,
                in_category=in_category,
                recent=recent,
                popular=popular,
                total=len(published),
            ),
        )
    template = env.get_template("site/category.html")
    for c in categories:
        members = in_category[c.slug]
        path = category_path(c.slug)
        if writer.needs(path, _hash(c, digests(members))):
            writer.write(path, template.render(root="../", category=c, articles=members))
    template = env.get_template("site/tag.html")
    for tag, members in sorted(with_tag.items()):
        path = tag_path(tag_file_name(tag))
        if writer.needs(path, _hash(tag, digests(members), [m.category for m in members])):
            writer.write(
                path,
                template.render(
                    root="../", tag=tag, articles=members, categories=content.categories
                ),
            )
    template = env.get_template("site/redirect.html")
    in_slugs = {a.slug for a in published}
    for a in published:
        for alias in a.aliases:
            path = article_path(alias)
            if alias in in_slugs:
                continue  # an alias may not hide a real article (the checker says so)
            if writer.needs(path, _hash(a.slug, alias)):
                writer.write(path, template.render(root="../", target=a))
    if writer.needs("404.html", _hash("404", [c.title for c in categories])):
        writer.write(
            "404.html",
            env.get_template("site/404.html").render(root="/", categories=categories),
        )
    writer.write("sitemap.xml", _sitemap(options.base_url, published, categories))
    writer.needs("sitemap.xml", "always")
    _copy_static(options, writer)


def _sitemap(base_url: str, published: list[Article], categories: list[Category]) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        f"<url><loc>{xml_escape(base_url)}</loc></url>",
    ]
    for c in categories:
        lines.append(f"<url><loc>{xml_escape(base_url + category_path(c.slug))}</loc></url>")
    for a in published:
        lastmod = f"<lastmod>{a.updated.isoformat()}</lastmod>" if a.updated else ""
        loc = xml_escape(base_url + article_path(a.slug))
        lines.append(f"<url><loc>{loc}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"
