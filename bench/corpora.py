"""Benchmark corpora, written at run time into a temporary directory in our content format.

* :func:`convert_officedocs` turns the real MicrosoftDocs/OfficeDocs-Support snapshot
  (``/work/shared/corpora/officedocs-support``, never copied into the repository) into
  ``content/articles/<category>/<slug>.md``.
* :func:`generate_synthetic` writes N deterministic articles (``random.Random(seed)``).
* :func:`copy_demo` copies the project's own demo content (for the search dev set).

Every function returns a :class:`Corpus` describing what it wrote.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import yaml

try:  # same choice as kb.frontmatter: the C loader when PyYAML has it
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

OFFICEDOCS = Path("/work/shared/corpora/officedocs-support")
SKIP_TOP = {"includes"}
MAX_TAGS = 6


@dataclass
class Corpus:
    name: str
    content_dir: Path
    articles: int
    categories: int
    words: int = 0
    titles: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # article files, sorted
    notes: list[str] = field(default_factory=list)

    @property
    def docs_dir(self) -> Path:
        """The directory of Markdown files MkDocs reads (the same files we build)."""
        return self.content_dir / "articles"


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _front_matter(meta: dict[str, Any]) -> str:
    dumped = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=10**9)
    return f"---\n{dumped}---\n"


def _one_line(text: object) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def _split_source(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a source file; a file without front matter gets {}."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        return {}, text
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_Loader)
    except yaml.YAMLError:
        meta = None
    return (meta if isinstance(meta, dict) else {}), "\n".join(lines[end + 1 :])


def _tags(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    tags = [slugify(str(v)) for v in items if str(v).strip()]
    return list(dict.fromkeys(t for t in tags if t != "x"))[:MAX_TAGS]


def _write_category(directory: Path, title: str, order: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"title": title, "order": order}, sort_keys=False, allow_unicode=True)
    (directory / "_category.yaml").write_text(text, "utf-8")


def convert_officedocs(
    dest: Path, *, source: Path = OFFICEDOCS, every: int = 1, name: str = "real"
) -> Corpus:
    """Convert the OfficeDocs-Support snapshot into ``dest/content``.

    Category = first two path components (Product/Area), slugified; slug = the file
    stem, slugified and de-duplicated with ``-2``, ``-3``... in sorted path order.
    ``every=k`` keeps every k-th article (a spread-out subset for --quick).
    """
    content = dest / "content"
    articles_dir = content / "articles"
    files = sorted(
        p
        for p in source.rglob("*.md")
        if len(p.relative_to(source).parts) >= 3 and p.relative_to(source).parts[0] not in SKIP_TOP
    )
    files = files[::every]
    categories: dict[str, str] = {}
    used: set[str] = set()
    corpus = Corpus(name=name, content_dir=content, articles=0, categories=0)
    renamed = 0
    for path in files:
        parts = path.relative_to(source).parts
        category = slugify(f"{parts[0]}-{parts[1]}")
        categories.setdefault(category, f"{parts[0]} {parts[1]}")
        base = slugify(path.stem)
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        renamed += slug != path.stem
        meta, body = _split_source(path.read_text("utf-8"))
        title = _one_line(meta.get("title")) or path.stem
        summary = _one_line(meta.get("description")) or title
        front: dict[str, Any] = {"title": title, "summary": summary}
        tags = _tags(meta.get("appliesto"))
        if tags:
            front["tags"] = tags
        target = articles_dir / category / f"{slug}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_front_matter(front) + body, "utf-8")
        corpus.paths.append(target)
        corpus.titles.append(title)
        corpus.words += len(body.split())
    for order, (category, title) in enumerate(sorted(categories.items()), start=1):
        _write_category(articles_dir / category, title, order)
    corpus.articles = len(corpus.paths)
    corpus.categories = len(categories)
    corpus.paths.sort()
    corpus.notes.append(
        f"{corpus.articles} articles from {source.name}"
        + (f" (every {every}th file)" if every > 1 else "")
        + f"; {renamed} slugs differ from the file stem (slugified or de-duplicated)"
    )
    return corpus


def copy_demo(dest: Path, source: Path) -> Corpus:
    """Copy the project's demo content (articles + synonyms) into ``dest/content``."""
    content = dest / "content"
    shutil.copytree(source, content, ignore=shutil.ignore_patterns(".*"))
    paths = sorted((content / "articles").glob("*/*.md"))
    titles = []
    words = 0
    for p in paths:
        meta, body = _split_source(p.read_text("utf-8"))
        titles.append(_one_line(meta.get("title")))
        words += len(body.split())
    return Corpus(
        name="demo",
        content_dir=content,
        articles=len(paths),
        categories=len({p.parent for p in paths}),
        words=words,
        titles=titles,
        paths=paths,
        notes=[f"the project's demo content ({source})"],
    )


# --- synthetic corpus ---------------------------------------------------------------


def _wordlist(text: str) -> list[str]:
    return text.split()


_DOMAIN = _wordlist("""
account access active add address admin alert allow api app application archive
attachment audit authentication backup balance bandwidth billing block browser bug
cache calendar cancel certificate change channel charge check client cloud cluster
code company configure connect connection contact container contract copy cpu create
credential credit customer dashboard data database delete deploy device directory
disable disk display dns document domain download driver email enable encryption
endpoint error event export failure feature file filter firewall folder forward group
guest hardware header history host identity image import inbox install instance
integration invoice ip key language latency license limit link load log login mail
mailbox meeting memory message migrate mobile monitor mount network notification
office order outage owner package page partition password payment performance
permission phone plan policy port portal power printer priority privacy profile
protocol proxy quota record recovery redirect refund region registry release remote
report request reset restore role router rule schedule script search secure security
server service session setting setup share signature site size slow snapshot software
space spam storage subscription support sync system tenant ticket timeout token
traffic transfer trial update upgrade upload usage user version video virtual volume
warning web website window wizard workflow zone
""")

_GLUE = _wordlist("""
the a to of and in for is on that with you your it this be can are if by as or from
not when an will at have use all more new after then before which only may each
should does also how what do more than other into out up need must any one two
""")

_VERBS = _wordlist("""
open close restart reset check verify enable disable configure install remove update
select choose click sign confirm review run set add create delete move copy send
""")

_LANGS = ["bash", "powershell", "python", "json", "text", ""]


def _pseudo_words(rng: Random, count: int) -> list[str]:
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "z",
        "br",
        "ch",
        "cl",
        "dr",
        "gr",
        "pl",
        "pr",
        "sh",
        "st",
        "tr",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
    codas = ["", "", "n", "r", "s", "t", "l", "x", "nd", "rt", "st"]
    seen: set[str] = set(_DOMAIN) | set(_GLUE)
    out: list[str] = []
    while len(out) < count:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))
        ) + rng.choice(codas)
        if len(word) >= 4 and word not in seen:
            seen.add(word)
            out.append(word)
    return out


class _Words:
    """Zipf-weighted draws from a vocabulary of domain words and pseudo-words."""

    def __init__(self, rng: Random, size: int = 6000) -> None:
        self.rng = rng
        vocab = _DOMAIN + _pseudo_words(rng, size - len(_DOMAIN))
        head = vocab[:1000]
        rng.shuffle(head)  # domain words spread over the 1,000 most frequent ranks
        self.vocab = head + vocab[1000:]
        # Zipf-Mandelbrot: a flatter head than pure Zipf, like content words in prose
        weights = [1.0 / (rank + 10) for rank in range(len(self.vocab))]
        total = 0.0
        self.cum: list[float] = []
        for w in weights:
            total += w
            self.cum.append(total)

    def content(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=k)

    def sentence(self, low: int = 8, high: int = 20) -> str:
        n = self.rng.randint(low, high)
        words = []
        for w in self.content(n):
            words.append(w)
            if self.rng.random() < 0.45:
                words.append(self.rng.choice(_GLUE))
        if self.rng.random() < 0.3:
            words.insert(0, self.rng.choice(_VERBS))
        text = " ".join(words[:n])
        return text[0].upper() + text[1:] + "."


def _paragraph(words: _Words, rng: Random) -> str:
    return " ".join(words.sentence() for _ in range(rng.randint(2, 5)))


def _body(
    words: _Words, rng: Random, target_words: int, slugs: list[str], titles: list[str]
) -> str:
    blocks: list[str] = [_paragraph(words, rng)]
    written = len(blocks[0].split())
    while written < target_words:
        roll = rng.random()
        if roll < 0.22:
            blocks.append(f"## {' '.join(words.content(rng.randint(2, 5))).capitalize()}")
        elif roll < 0.34:
            items = [words.sentence(3, 10) for _ in range(rng.randint(3, 6))]
            blocks.append("\n".join(f"- {item}" for item in items))
        elif roll < 0.42:
            items = [words.sentence(4, 12) for _ in range(rng.randint(3, 6))]
            blocks.append("\n".join(f"{i}. {item}" for i, item in enumerate(items, 1)))
        elif roll < 0.50:
            j = rng.randrange(len(slugs))
            label = titles[j].lower()
            blocks.append(f"{words.sentence(5, 10)[:-1]}, see [{label}]({slugs[j]}.md).")
        elif roll < 0.54:
            lang = rng.choice(_LANGS)
            lines = [
                f"{rng.choice(_VERBS)}-{w} --{rng.choice(words.vocab[:200])} {rng.randint(1, 999)}"
                for w in words.content(rng.randint(2, 6))
            ]
            blocks.append(f"```{lang}\n" + "\n".join(lines) + "\n```")
        elif roll < 0.58:
            w1, w2 = words.content(2)
            blocks.append(f"Run `{w1} {w2}` and check the **{w1}** setting. {words.sentence()}")
        else:
            blocks.append(_paragraph(words, rng))
        written += len(blocks[-1].split())
    return "\n\n".join(blocks) + "\n"


def generate_synthetic(
    dest: Path, *, count: int = 10_000, categories: int = 40, seed: int = 42, name: str = ""
) -> Corpus:
    """``count`` articles in ``categories`` categories, identical for the same seed."""
    rng = Random(seed)
    words = _Words(rng)
    content = dest / "content"
    articles_dir = content / "articles"
    domain = list(_DOMAIN)
    cat_slugs: list[str] = []
    used_cats: set[str] = set()
    while len(cat_slugs) < categories:
        a, b = rng.sample(domain, 2)
        slug = f"{a}-{b}"
        if slug not in used_cats:
            used_cats.add(slug)
            cat_slugs.append(slug)
    tag_pool = list(dict.fromkeys(rng.sample(domain, 120) + words.vocab[200:260]))
    slugs: list[str] = []
    titles: list[str] = []
    used: set[str] = set()
    for _ in range(count):
        title_words = words.content(rng.randint(3, 8))
        title = " ".join(title_words).capitalize()
        base = slugify("-".join(title_words[:5]))
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        slugs.append(slug)
        titles.append(title)
    corpus = Corpus(
        name=name or f"synthetic-{count}",
        content_dir=content,
        articles=count,
        categories=categories,
    )
    for order, slug in enumerate(cat_slugs, start=1):
        _write_category(articles_dir / slug, slug.replace("-", " ").capitalize(), order)
    # uneven category sizes, as in real knowledge bases
    cat_weights = [1.0 / (i + 1) ** 0.6 for i in range(categories)]
    for slug, title in zip(slugs, titles, strict=True):
        category = rng.choices(cat_slugs, weights=cat_weights)[0]
        meta: dict[str, Any] = {"title": title, "summary": words.sentence(10, 22)}
        tags = sorted(set(rng.sample(tag_pool, rng.randint(0, 4))))
        if tags:
            meta["tags"] = tags
        body = _body(words, rng, rng.randint(200, 600), slugs, titles)
        target = articles_dir / category / f"{slug}.md"
        target.write_text(_front_matter(meta) + "\n" + body, "utf-8")
        corpus.paths.append(target)
        corpus.titles.append(title)
        corpus.words += len(body.split())
    corpus.paths.sort()
    corpus.notes.append(
        f"{count} generated articles in {categories} categories (random.Random({seed})), "
        f"vocabulary of {len(words.vocab)} Zipf-weighted words"
    )
    return corpus
