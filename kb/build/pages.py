"""The writers: article pages and their embeddable fragments, listings (home,
categories, tags), alias redirects, 404, sitemap, static files and the manifest.

Every page goes through :class:`Writer`, which skips a page whose fingerprint (a
digest of everything shown on it) is the one it had in the previous generation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import jinja2

from kb import layout
from kb.build.options import BuildOptions, BuildReport
from kb.build.plan import Plan
from kb.build.state import fingerprint
from kb.content import Article, Category, Content
from kb.layout import article_path, category_path, tag_file_name, tag_path
from kb.render import Rendered

RECENT_LIMIT = 8
POPULAR_LIMIT = 8

_RELATIVE_ARTICLE = re.compile(r'href="([a-z0-9][\w-]*\.html(?:#[^"]*)?)"')


class Writer:
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

    def outdated(self, path: str, fingerprint: str) -> bool:
        """The page's fingerprint differs from the last build's, or the page is missing."""
        return self.old.get(path) != fingerprint or not (self.site / path).exists()

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


def environment(options: BuildOptions) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(options.templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        site_name=options.site_name,
        static_site=True,
        preview=options.preview,
        base_url=options.base_url,
        # the site has search.html and its Pagefind index (kb/build/static_search.py)
        static_search=options.static_search and not options.preview,
    )
    env.filters["tagfile"] = tag_file_name
    return env


@dataclass
class Groups:
    """The published articles as listings show them, each list sorted by title."""

    categories: list[Category]  # the categories with articles, in display order
    in_category: dict[str, list[Article]]
    with_tag: dict[str, list[Article]]


def group(content: Content, published: list[Article]) -> Groups:
    categories = sorted(content.categories.values(), key=lambda c: (c.order, c.title))
    in_category: dict[str, list[Article]] = defaultdict(list)
    with_tag: dict[str, list[Article]] = defaultdict(list)
    for a in sorted(published, key=lambda a: a.title.lower()):
        in_category[a.category].append(a)
        for tag in a.tags:
            with_tag[tag].append(a)
    categories = [c for c in categories if in_category.get(c.slug)]
    return Groups(categories, in_category, with_tag)


class SitePages:
    """The page writers of one build."""

    def __init__(self, options: BuildOptions, content: Content, writer: Writer) -> None:
        self.options = options
        self.content = content
        self.writer = writer
        self.env = environment(options)

    def articles(self, plan: Plan, rendered: dict[str, Rendered]) -> None:
        """The pages of the articles rendered, each also as a fragment: the pages whose
        fingerprint changed (or that are missing) and every fragment."""
        fragments = self.options.out_dir / layout.FRAGMENTS
        fragments.mkdir(exist_ok=True)
        for stale in {p.stem for p in fragments.glob("*.html")} - plan.published.slugs:
            (fragments / f"{stale}.html").unlink()
        template = self.env.get_template("site/article.html")
        progress, total = self.options.progress, len(plan.to_render)
        for done, a in enumerate(plan.to_render, start=1):
            path = article_path(a.slug)
            html = rendered[a.slug].html
            if self.writer.outdated(path, plan.page_fingerprints[a.slug]):
                page = template.render(
                    root="../",
                    article=a,
                    category=self.content.categories[a.category],
                    body=html,
                    related=plan.related(a.slug),
                    canonical=self.options.base_url + path,
                )
                self.writer.write(path, page)
            write_fragment(fragments / f"{a.slug}.html", html)
            if progress and total > 500 and (done % 200 == 0 or done == total):
                progress(done, total)

    def listings(self, plan: Plan) -> None:
        """Home, category and tag pages, alias redirects, 404 and the sitemap."""
        published = plan.published.articles
        groups = group(self.content, published)
        self._home(plan, groups)
        self._categories(plan, groups)
        self._tags(plan, groups)
        self._redirects(plan)
        if self.writer.needs("404.html", fingerprint("404", [c.title for c in groups.categories])):
            page = self.env.get_template("site/404.html").render(
                root="/", categories=groups.categories
            )
            self.writer.write("404.html", page)
        self.writer.write("sitemap.xml", sitemap(self.options.base_url, published, groups))
        self.writer.needs("sitemap.xml", "always")
        self._search_page(plan, groups)

    def _search_page(self, plan: Plan, groups: Groups) -> None:
        """search.html: the static host's search (Pagefind), with the categories and
        the most linked articles to offer when nothing is found."""
        if not self.env.globals["static_search"]:
            with contextlib.suppress(FileNotFoundError):
                (self.writer.site / "search.html").unlink()
            return
        popular = _popular(plan, limit=5)
        shown = fingerprint(
            "search", [(c.slug, c.title) for c in groups.categories], plan.digests(popular)
        )
        if self.writer.needs("search.html", shown):
            page = self.env.get_template("site/search.html").render(
                root="", categories=groups.categories, popular=popular
            )
            self.writer.write("search.html", page)

    def _home(self, plan: Plan, groups: Groups) -> None:
        published = plan.published.articles
        recent = sorted(
            (a for a in published if a.updated), key=lambda a: (a.updated, a.slug), reverse=True
        )[:RECENT_LIMIT]
        popular = _popular(plan, POPULAR_LIMIT)
        digests, in_category = plan.digests, groups.in_category
        cat_summary = [
            (
                c.slug,
                c.title,
                c.description,
                digests(in_category[c.slug][:5]),
                len(in_category[c.slug]),
            )
            for c in groups.categories
        ]
        if not self.writer.needs(
            "index.html", fingerprint(cat_summary, digests(recent), digests(popular))
        ):
            return
        page = self.env.get_template("site/home.html").render(
            root="",
            categories=groups.categories,
            in_category=in_category,
            recent=recent,
            popular=popular,
            total=len(published),
        )
        self.writer.write("index.html", page)

    def _categories(self, plan: Plan, groups: Groups) -> None:
        template = self.env.get_template("site/category.html")
        digests = plan.digests
        for c in groups.categories:
            members = groups.in_category[c.slug]
            path = category_path(c.slug)
            if self.writer.needs(path, fingerprint(c, digests(members))):
                self.writer.write(path, template.render(root="../", category=c, articles=members))

    def _tags(self, plan: Plan, groups: Groups) -> None:
        template = self.env.get_template("site/tag.html")
        digests = plan.digests
        for tag, members in sorted(groups.with_tag.items()):
            path = tag_path(tag_file_name(tag))
            shown = fingerprint(tag, digests(members), [m.category for m in members])
            if self.writer.needs(path, shown):
                page = template.render(
                    root="../", tag=tag, articles=members, categories=self.content.categories
                )
                self.writer.write(path, page)

    def _redirects(self, plan: Plan) -> None:
        template = self.env.get_template("site/redirect.html")
        for a in plan.published.articles:
            for alias in a.aliases:
                path = article_path(alias)
                if alias in plan.published.slugs:
                    continue  # an alias may not hide a real article (the checker says so)
                if self.writer.needs(path, fingerprint(a.slug, alias)):
                    self.writer.write(path, template.render(root="../", target=a))

    def static(self) -> None:
        static_dir = self.options.static_dir
        if not static_dir.is_dir():
            return
        for path in sorted(static_dir.rglob("*")):
            if path.is_file():
                rel = "static/" + path.relative_to(static_dir).as_posix()
                st = path.stat()
                if self.writer.needs(rel, fingerprint(st.st_size, st.st_mtime_ns)):
                    self.writer.write(rel, path.read_bytes())


def _popular(plan: Plan, limit: int) -> list[Article]:
    """The articles most linked from other articles (the ones that help most often)."""
    inbound = plan.graph.inbound
    ranked = sorted(
        plan.published.articles, key=lambda a: (-inbound.get(a.slug, 0), a.title.lower())
    )
    return [a for a in ranked[:limit] if inbound.get(a.slug)]


def write_fragment(path: Path, html: str) -> None:
    """An article body for embedding in portal pages: article links made site-absolute."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(_RELATIVE_ARTICLE.sub(r'href="/articles/\1"', html), "utf-8")
    os.replace(tmp, path)


def sitemap(base_url: str, published: list[Article], groups: Groups) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        f"<url><loc>{xml_escape(base_url)}</loc></url>",
    ]
    for c in groups.categories:
        lines.append(f"<url><loc>{xml_escape(base_url + category_path(c.slug))}</loc></url>")
    for a in published:
        lastmod = f"<lastmod>{a.updated.isoformat()}</lastmod>" if a.updated else ""
        loc = xml_escape(base_url + article_path(a.slug))
        lines.append(f"<url><loc>{loc}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def write_manifest(generation: Path, content: Content, plan: Plan) -> None:
    """OUT/gen-<n>/manifest.json: categories, articles and aliases, for the portal."""
    _write_json(generation / layout.MANIFEST, manifest(content, plan))


def manifest(content: Content, plan: Plan) -> dict[str, Any]:
    related = plan.graph.related
    published = plan.published.articles
    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "categories": [
            {
                "slug": c.slug,
                "title": c.title,
                "description": c.description,
                "order": c.order,
            }
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
                "updated": a.updated.isoformat() if a.updated else "",
                "draft": a.draft,
                "related": related.get(a.slug, []),
            }
            for a in published
        ],
        "aliases": {alias: a.slug for a in published for alias in a.aliases},
        # the most linked articles first: what a search page offers when nothing is found
        "popular": [a.slug for a in _popular(plan, POPULAR_LIMIT)],
    }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    # no indent: json's C encoder only runs without one
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
    os.replace(tmp, path)
