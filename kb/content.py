"""Load the content tree: categories, articles (front matter + body) and synonyms.

Layout::

    content/articles/<category>/_category.yaml
    content/articles/<category>/<slug>.md
    content/synonyms.txt

Loading never raises for bad content: problems are collected so that ``portal check``
can report all of them and ``portal build`` can skip what it cannot publish.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb import frontmatter
from kb.problems import Problem
from kb.schema import ARTICLE_FIELDS, ARTICLE_KEYS, CATEGORY_KEYS, Field

ARTICLES_DIR = "articles"
CATEGORY_FILE = "_category.yaml"
SYNONYMS_FILE = "synonyms.txt"


@dataclass
class Category:
    slug: str
    title: str
    order: int = 100
    description: str = ""
    path: str = ""


@dataclass
class Article:
    slug: str
    category: str
    path: str  # relative to the content directory, posix
    digest: str  # sha1 of the file's bytes
    title: str
    summary: str
    body: str
    body_line: int
    tags: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    request_types: list[str] = field(default_factory=list)
    updated: dt.date | None = None
    draft: bool = False
    aliases: list[str] = field(default_factory=list)
    key_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, 1)

    @property
    def url(self) -> str:
        """Site-relative URL (no leading slash)."""
        return f"articles/{self.slug}.html"


@dataclass
class Content:
    root: Path
    categories: dict[str, Category]
    articles: list[Article]
    synonyms: list[list[str]]
    problems: list[Problem]

    def by_slug(self) -> dict[str, Article]:
        return {a.slug: a for a in self.articles}

    def published(self) -> list[Article]:
        return [a for a in self.articles if not a.draft]


def digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _check_kind(f: Field, value: Any) -> str | None:
    """Return an error message when ``value`` does not fit the field's kind."""
    if f.kind == "string":
        if not isinstance(value, str) or not value.strip():
            return f"'{f.name}' must be a non-empty string"
    elif f.kind == "list of strings":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return f"'{f.name}' must be a list of non-empty strings"
    elif f.kind == "date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            return f"'{f.name}' must be a date written as YYYY-MM-DD"
    elif f.kind == "boolean":
        if not isinstance(value, bool):
            return f"'{f.name}' must be true or false"
    elif f.kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return f"'{f.name}' must be a whole number"
    return None


def parse_article(rel_path: str, data: bytes) -> tuple[Article | None, list[Problem]]:
    """Parse one article file. Returns (None, problems) when it cannot be published."""
    problems: list[Problem] = []
    parts = rel_path.split("/")
    slug = parts[-1][:-3]
    category = parts[-2] if len(parts) >= 3 else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, [Problem(rel_path, 1, "file is not valid UTF-8")]
    try:
        doc = frontmatter.split(text)
    except frontmatter.FrontMatterError as exc:
        return None, [Problem(rel_path, exc.line, exc.message)]
    meta = doc.meta
    for key in meta:
        if key not in ARTICLE_KEYS:
            allowed = ", ".join(sorted(ARTICLE_KEYS))
            problems.append(
                Problem(
                    rel_path, doc.line_of(str(key)), f"unknown key '{key}' (allowed: {allowed})"
                )
            )
    values: dict[str, Any] = {}
    for f in ARTICLE_FIELDS:
        if f.name not in meta or meta[f.name] is None:
            if f.required:
                problems.append(Problem(rel_path, 1, f"missing required key '{f.name}'"))
            continue
        error = _check_kind(f, meta[f.name])
        if error:
            problems.append(Problem(rel_path, doc.line_of(f.name), error))
        else:
            values[f.name] = meta[f.name]
    summary = values.get("summary", "")
    if summary and summary.strip().count("\n") > 0:
        problems.append(Problem(rel_path, doc.line_of("summary"), "'summary' must be one line"))
    if "title" not in values or "summary" not in values:
        return None, problems
    article = Article(
        slug=slug,
        category=category,
        path=rel_path,
        digest=digest(data),
        title=values["title"].strip(),
        summary=" ".join(summary.split()),
        body=doc.body,
        body_line=doc.body_line,
        tags=[t.strip().lower() for t in values.get("tags", [])],
        keywords=list(values.get("keywords", [])),
        request_types=list(values.get("request_types", [])),
        updated=values.get("updated"),
        draft=bool(values.get("draft", False)),
        aliases=list(values.get("aliases", [])),
        key_lines=doc.key_lines,
    )
    return article, problems


def parse_category(slug: str, rel_path: str, data: bytes | None) -> tuple[Category, list[Problem]]:
    default = Category(slug=slug, title=slug.replace("-", " ").capitalize(), path=rel_path)
    if data is None:
        return default, [Problem(rel_path, 1, f"category '{slug}' has no {CATEGORY_FILE}")]
    try:
        meta = frontmatter.load_yaml(data.decode("utf-8")) or {}
    except Exception as exc:  # YAML or decoding errors: report, keep defaults
        return default, [Problem(rel_path, 1, f"not valid YAML: {exc}")]
    if not isinstance(meta, dict):
        return default, [Problem(rel_path, 1, "must be a mapping of keys to values")]
    problems = [
        Problem(rel_path, 1, f"unknown key '{k}' (allowed: {', '.join(sorted(CATEGORY_KEYS))})")
        for k in meta
        if k not in CATEGORY_KEYS
    ]
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(Problem(rel_path, 1, "missing required key 'title'"))
        title = default.title
    order = meta.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        problems.append(Problem(rel_path, 1, "'order' must be a whole number"))
        order = 100
    description = meta.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem(rel_path, 1, "'description' must be a string"))
        description = ""
    return Category(slug, title.strip(), order, description.strip(), rel_path), problems


def parse_synonyms(text: str) -> list[list[str]]:
    """Each non-comment line is a group of equivalent terms separated by commas."""
    groups: list[list[str]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        terms = [" ".join(t.lower().split()) for t in line.split(",")]
        terms = [t for t in terms if t]
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def article_files(root: Path) -> Iterable[tuple[str, str]]:
    """(relative posix path, full path) of every article file, sorted. Plain strings:
    with ten thousand files, Path objects are a measurable part of a rebuild."""
    base = os.path.join(root, ARTICLES_DIR)
    root_len = len(str(root).rstrip("/")) + 1
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.endswith(".md") and not name.startswith("."):
                full = os.path.join(dirpath, name)
                found.append((full[root_len:].replace(os.sep, "/"), full))
    found.sort()
    return found


ParsedCache = dict[str, tuple[str, Article | None, list[Problem]]]


def load_categories(root: Path) -> tuple[dict[str, Category], list[Problem]]:
    problems: list[Problem] = []
    categories: dict[str, Category] = {}
    base = root / ARTICLES_DIR
    if not base.is_dir():
        return categories, [Problem(f"{ARTICLES_DIR}/", 1, "no articles directory")]
    for entry in sorted(base.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            rel = f"{ARTICLES_DIR}/{entry.name}/{CATEGORY_FILE}"
            path = entry / CATEGORY_FILE
            data = path.read_bytes() if path.is_file() else None
            category, found = parse_category(entry.name, rel, data)
            categories[entry.name] = category
            problems.extend(found)
    return categories, problems


def load_synonyms(root: Path) -> list[list[str]]:
    path = root / SYNONYMS_FILE
    return parse_synonyms(path.read_text("utf-8")) if path.is_file() else []


def assemble(
    root: Path, parsed: ParsedCache, git_dates: dict[str, dt.date] | None = None
) -> Content:
    """Build a Content from parsed articles (path -> (digest, article, problems))."""
    categories, problems = load_categories(root)
    articles: list[Article] = []
    for rel in sorted(parsed):
        _digest, article, found = parsed[rel]
        problems.extend(found)
        if article is None:
            continue
        if not article.category:
            problems.append(
                Problem(rel, 1, "articles must live in a category folder: articles/<category>/")
            )
            continue
        if article.updated is None and git_dates:
            article.updated = git_dates.get(rel)
        articles.append(article)
    return Content(root, categories, articles, load_synonyms(root), problems)


def load(root: Path, *, git_dates: dict[str, dt.date] | None = None) -> Content:
    """Load and parse the whole content tree."""
    root = Path(root)
    parsed: ParsedCache = {}
    for rel, full in article_files(root):
        data = Path(full).read_bytes()
        article, found = parse_article(rel, data)
        parsed[rel] = (digest(data), article, found)
    return assemble(root, parsed, git_dates)
