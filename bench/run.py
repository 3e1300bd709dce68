"""Knowledge-base benchmark: our builder and searcher next to MkDocs and SQLite FTS5.

    .venv/bin/python bench/run.py            # full run (about 10 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # small sizes, a smoke test (about 2 minutes)
    .venv/bin/python bench/run.py --only search --only real
    .venv/bin/python bench/run.py --only adversarial   # adversarial searches (real)
    .venv/bin/python bench/run.py --only triage   # request-type ranking accuracy, no build

Prints a Markdown report and writes it to bench/results/latest.md. Everything is
measured in one run, in fresh temporary directories; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import platform
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adversarial
import corpora
import measure
from corpora import Corpus

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DEMO_CONTENT = ROOT / "content"
DEV_QUERIES = Path("/work/shared/eval/search-dev.tsv")
REAL_QUERIES = BENCH / "queries-real.tsv"  # customer queries for the real corpus

MEASUREMENTS = (
    "build",
    "incremental",
    "mkdocs",
    "search",
    "relevance",
    "server",
    "adversarial",
)
SOURCE_DIRS = ("kb", "portal", "templates", "static")
CORPORA = ("real", "synthetic", "demo")

TARGET_BUILD_RATIO = 5.0  # MkDocs wall / ours, higher is better
TARGET_TANTIVY_RATIO = 0.5  # tantivy p95 / FTS5 p95 (real and synthetic), lower is better
TARGET_WHOOSH_RATIO = 1.5  # whoosh p95 / FTS5 p95 (real), lower is better
TARGET_INDEX_RATIO = 0.5  # tantivy index build / whoosh index build, lower is better
TARGET_INCREMENTAL = 1.0  # seconds at 10k articles
MKDOCS_STOP_RATIO = 5.1  # on the 10k corpus MkDocs is stopped once it has taken this x ours

_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can for from how in is it not of on or the to when with "
        "you your this that use using what why does do",
    )
)


@dataclass
class Config:
    quick: bool
    budget: float
    only: set[str]
    keep: bool
    profile: bool
    real_every: int
    synthetic_count: int
    queries: int
    server_requests: int
    mkdocs_synthetic: bool
    output: Path
    source: Path = ROOT  # where kb/, portal/, templates/, static/ are copied from
    # templates_dir/static_dir for every build, from the source snapshot (the builder
    # rebuilds everything when they change, and they may be edited during a run)
    theme: dict[str, str] = field(default_factory=dict)
    load: tuple[float, float, float] = field(default_factory=os.getloadavg)
    commit: str = ""
    dirty: bool = False

    def wants(self, corpus: str, measurement: str) -> bool:
        corpora_sel = self.only & set(CORPORA)
        measure_sel = self.only & set(MEASUREMENTS)
        return (not corpora_sel or corpus in corpora_sel) and (
            not measure_sel or measurement in measure_sel
        )


@dataclass
class Section:
    """Everything measured for one corpus."""

    corpus: Corpus
    prepare_seconds: float
    build: dict[str, Any] | None = None
    build_tantivy: dict[str, Any] | None = None  # the same build with search_engine=tantivy
    relevance: dict[str, Any] | None = None
    incremental: dict[str, Any] | None = None
    mkdocs: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    adversarial: dict[str, Any] | None = None
    profiles: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(section: Section, name: str) -> Iterator[None]:
    """Run one measurement; a failure is recorded in the report, not fatal."""
    log(f"{section.corpus.name}: {name}")
    started = time.monotonic()
    try:
        yield
    except Exception as exc:  # the report says what failed; other steps still run
        section.errors.append(f"{name}: {type(exc).__name__}: {exc}".strip()[:1500])
        log("".join(traceback.format_exception(exc))[-3000:])
    log(f"{section.corpus.name}: {name} done in {time.monotonic() - started:.1f} s")


# --- queries ---------------------------------------------------------------------------


def title_queries(titles: list[str], count: int, seed: int = 7) -> list[str]:
    """Two-word queries from title words: half from one title (both words relevant to
    one article), half from two different titles."""
    rng = random.Random(seed)
    per_title = [
        list(dict.fromkeys(w for w in re.findall(r"[a-z]{3,}", t.lower()) if w not in _STOP))
        for t in titles
    ]
    per_title = [ws for ws in per_title if ws]
    queries: list[str] = []
    while len(queries) < count and per_title:
        if len(queries) % 2 == 0:
            words = rng.choice(per_title)
            if len(words) < 2:
                continue
            pair = rng.sample(words, 2)
        else:
            pair = [rng.choice(rng.choice(per_title)) for _ in range(2)]
            if pair[0] == pair[1]:
                continue
        queries.append(" ".join(pair))
    return queries


def dev_queries(path: Path = DEV_QUERIES) -> list[tuple[str, list[str]]]:
    if not path.is_file():
        return []
    pairs = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        q, expected = line.split("\t", 1)
        pairs.append((q.strip(), [s.strip() for s in expected.split("|") if s.strip()]))
    return pairs


# --- measurements ----------------------------------------------------------------------


def full_build(
    section: Section, out_dir: Path, cfg: Config, budget: Budget, engine: str = "whoosh"
) -> None:
    args = {"content_dir": str(section.corpus.content_dir), "out_dir": str(out_dir)}
    options: dict[str, Any] = {"clean": True, "search_engine": engine}
    if engine != "whoosh":  # the same build with the other engine: its index is the point
        options["static_search"] = False
    child = measure.run_task(
        "build", args | cfg.theme | options, timeout=max(60.0, budget.remaining())
    )
    report = child.json()
    measured = {
        "wall": child.wall,
        "cpu": child.cpu,
        "max_rss_mb": child.max_rss_mb,
        "tree_rss_mb": child.tree_rss_mb,
        "report": report,
        "site_mb": _tree_size(out_dir / "current" / "site") / 2**20,
        "index_mb": _tree_size(out_dir / "current" / "index") / 2**20,
    }
    if engine == "whoosh":
        section.build = measured
    else:
        section.build_tantivy = measured
    if report["rendered"] != section.corpus.articles or report["problems"]:
        section.errors.append(
            f"full build rendered {report['rendered']} of {section.corpus.articles} "
            f"articles, {report['problems']} content problem(s)"
        )


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def incremental(section: Section, out_dir: Path, cfg: Config, tmp: Path) -> None:
    paths = section.corpus.paths
    picks = [paths[len(paths) * k // 4] for k in (1, 2, 3)]
    args = {"content_dir": str(section.corpus.content_dir), "out_dir": str(out_dir)} | cfg.theme
    edits: list[dict[str, Any]] = []
    for n, path in enumerate(picks, start=1):
        _edit(path, n)
        child = measure.run_task("build", args, timeout=300)
        edits.append({"wall": child.wall, "report": child.json(), "max_rss_mb": child.max_rss_mb})
    nochange = []
    for _ in range(3):
        child = measure.run_task("build", args, timeout=300)
        nochange.append({"wall": child.wall, "report": child.json()})
    if cfg.profile:  # one more edit, profiled, not part of the timings
        _edit(paths[len(paths) // 8], 4)
        profile = str(tmp / f"profile-incremental-{section.corpus.name}.prof")
        measure.run_task("build", args | {"profile": profile}, timeout=300).json()
        section.profiles["incremental rebuild after one edit (an extra run)"] = _top(profile)
    section.incremental = {"edits": edits, "nochange": nochange}
    wrong = [e["report"]["rendered"] for e in edits if e["report"]["rendered"] != 1]
    if wrong:
        full = sum(e["report"]["full"] for e in edits + nochange)
        section.errors.append(
            f"an incremental rebuild rendered {wrong} articles, expected 1"
            + (f" ({full} build(s) reported full=True)" if full else "")
        )


def _edit(path: Path, n: int) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\nBenchmark edit {n}: one more sentence at the end of the body.\n")


def mkdocs(section: Section, tmp: Path, timeout: float) -> None:
    work = tmp / "mkdocs"
    work.mkdir()
    config = work / "mkdocs.yml"
    config.write_text(
        "site_name: Benchmark\n"
        f"docs_dir: {section.corpus.docs_dir}\n"
        f"site_dir: {work / 'site'}\n"
        "theme:\n  name: mkdocs\n"
        "use_directory_urls: false\n",
        "utf-8",
    )
    child = measure.run_child(
        [measure.PYTHON, "-m", "mkdocs", "build", "-q", "-f", str(config)], timeout=timeout
    )
    if not child.timed_out and child.returncode != 0:
        raise RuntimeError(f"mkdocs failed (rc={child.returncode}): {child.stderr[-1500:]}")
    pages = len(list((work / "site").rglob("*.html"))) if not child.timed_out else 0
    section.mkdocs = {
        "wall": child.wall,
        "timed_out": child.timed_out,
        "timeout": timeout,
        "cpu": child.cpu,
        "max_rss_mb": child.max_rss_mb,
        "tree_rss_mb": child.tree_rss_mb,
        "pages": pages,
        "site_mb": _tree_size(work / "site") / 2**20 if pages else 0.0,
        "stderr_lines": len(child.stderr.splitlines()),
    }
    shutil.rmtree(work / "site", ignore_errors=True)


def search(section: Section, out_dir: Path, cfg: Config, tmp: Path) -> None:
    queries = title_queries(section.corpus.titles, cfg.queries)
    dev = dev_queries() if section.corpus.name == "demo" else []
    queries = [q for q, _ in dev] + queries
    engines = {"whoosh": str(out_dir)}
    if section.build_tantivy is not None:
        engines["tantivy"] = str(out_dir.parent / "build-tantivy")
    profile = None
    if cfg.profile:
        profile = str(tmp / f"profile-search-{section.corpus.name}.prof")
    child = measure.run_task(
        "search",
        {
            "engines": engines,
            "content_dir": str(section.corpus.content_dir),
            "queries": queries,
            "profile": profile,
        },
        timeout=900,
    )
    section.search = child.json() | {"max_rss_mb": child.max_rss_mb, "sample": queries[:5]}
    if profile:
        section.profiles[f"{len(queries)} searches (whoosh, default options, a second pass)"] = (
            _top(profile)
        )


def relevance(section: Section, out_dir: Path) -> None:
    """recall@3 and MRR@10 of both engines and the baseline on labelled queries: the
    real corpus's bench/queries-real.tsv, the demo's dev set."""
    rows = dev_queries(REAL_QUERIES if section.corpus.name == "real" else DEV_QUERIES)
    if not rows:
        section.skipped.append("relevance: no labelled queries for this corpus")
        return
    engines = {"whoosh": str(out_dir)}
    if section.build_tantivy is not None:
        engines["tantivy"] = str(out_dir.parent / "build-tantivy")
    child = measure.run_task(
        "relevance",
        {
            "engines": engines,
            "content_dir": str(section.corpus.content_dir),
            "rows": rows,
            "source": (REAL_QUERIES if section.corpus.name == "real" else DEV_QUERIES).name,
        },
        timeout=900,
    )
    section.relevance = child.json()


def server(section: Section, out_dir: Path, cfg: Config, tmp: Path) -> None:
    queries = title_queries(section.corpus.titles, cfg.server_requests, seed=11)
    section.server = measure.serve_and_query(
        out_dir, section.corpus.content_dir, queries, tmp / "server"
    )


def _top(profile: str, limit: int = 22) -> str:
    """The top functions by cumulative time, then by own time."""
    parts = []
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        stats = pstats.Stats(profile, stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(limit if key == "cumulative" else 12)
        text = buf.getvalue()
        if not parts:
            total = re.search(r"in ([\d.]+) seconds", text)
            if total:
                parts.append(f"total {total.group(1)} s (with cProfile overhead)")
        start = text.find("   ncalls")
        body = text[start:] if start >= 0 else text
        parts.append(f"-- by {key} time --")
        parts += [line.rstrip() for line in body.splitlines() if line.strip()]
    return "\n".join(parts)


# --- orchestration ---------------------------------------------------------------------


def run_corpus(
    name: str,
    prepare: Callable[[Path], Corpus],
    cfg: Config,
    budget: Budget,
    tmp_root: Path,
    *,
    mkdocs_timeout: float | None,
    with_server: bool = False,
) -> Section:
    tmp = tmp_root / name
    tmp.mkdir()
    log(f"{name}: preparing corpus")
    started = time.monotonic()
    corpus = prepare(tmp)
    section = Section(corpus=corpus, prepare_seconds=time.monotonic() - started)
    out_dir = tmp / "build"
    with step(section, "full build"):
        full_build(section, out_dir, cfg, budget)
    built = section.build is not None
    wants_engines = name in ("real", "synthetic", "demo") and (
        cfg.wants(name, "search") or cfg.wants(name, "relevance")
    )
    if built and wants_engines:
        with step(section, "full build with tantivy"):
            full_build(section, tmp / "build-tantivy", cfg, budget, engine="tantivy")
    if cfg.wants(name, "mkdocs"):
        if mkdocs_timeout is None:
            section.skipped.append("mkdocs: not run on this corpus in this mode")
        else:
            with step(section, "mkdocs"):
                mkdocs(section, tmp, mkdocs_timeout)
    if built and cfg.wants(name, "search"):
        with step(section, "search"):
            search(section, out_dir, cfg, tmp)
    if built and name in ("real", "demo") and cfg.wants(name, "relevance"):
        with step(section, "relevance"):
            relevance(section, out_dir)
    if built and with_server and cfg.wants(name, "server"):
        with step(section, "server"):
            server(section, out_dir, cfg, tmp)
    if built and with_server and cfg.wants(name, "adversarial"):  # edits 5 articles
        with step(section, "adversarial"):
            section.adversarial = adversarial.measure_all(
                out_dir,
                corpus.content_dir,
                corpus.paths,
                title_queries(corpus.titles, cfg.queries, seed=13),
                {"content_dir": str(corpus.content_dir), "out_dir": str(out_dir)} | cfg.theme,
                tmp / "adversarial",
                policy_source=DEMO_CONTENT / "policy.yaml",
            )
    if built and cfg.wants(name, "incremental"):  # last: it edits the content
        with step(section, "incremental"):
            incremental(section, out_dir, cfg, tmp)
    return section


def snapshot_source(dest: Path, source: Path = ROOT) -> Path:
    """Copy kb/, portal/, templates/ and static/: every child imports and reads this
    copy, so the whole run measures one version even while the tree is being edited."""
    for name in SOURCE_DIRS:
        shutil.copytree(source / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# measurements made on one corpus only (the others are not built for them alone)
ONLY_ON = {"server": {"real"}, "adversarial": {"real"}, "relevance": {"real", "demo"}}


def _needs_corpus(cfg: Config, name: str) -> bool:
    return any(cfg.wants(name, m) and name in ONLY_ON.get(m, {name}) for m in MEASUREMENTS)


def run(cfg: Config) -> tuple[list[Section], float, str]:
    budget = Budget(cfg.budget)
    cfg.commit = _git("rev-parse", "--short", "HEAD")
    cfg.dirty = bool(_git("status", "--porcelain", "--", *SOURCE_DIRS))
    sections: list[Section] = []
    tmp_root = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    log(f"working in {tmp_root}")
    try:
        source = snapshot_source(tmp_root / "source", cfg.source)
        measure.SOURCE = source
        for name in ("templates", "static"):
            cfg.theme[f"{name}_dir"] = str(source / name)
        if _needs_corpus(cfg, "real"):
            sections.append(
                run_corpus(
                    "real",
                    lambda d: corpora.convert_officedocs(d, every=cfg.real_every),
                    cfg,
                    budget,
                    tmp_root,
                    mkdocs_timeout=max(120.0, budget.remaining() * 0.5),
                    with_server=True,
                )
            )
        if _needs_corpus(cfg, "synthetic"):
            sections.append(
                run_corpus(
                    "synthetic",
                    lambda d: corpora.generate_synthetic(
                        d, count=cfg.synthetic_count, name="synthetic"
                    ),
                    cfg,
                    budget,
                    tmp_root,
                    mkdocs_timeout=None,  # decided below, with what is left of the budget
                )
            )
        if _needs_corpus(cfg, "demo") and DEMO_CONTENT.is_dir():
            sections.append(
                run_corpus(
                    "demo",
                    lambda d: corpora.copy_demo(d, DEMO_CONTENT),
                    cfg,
                    budget,
                    tmp_root,
                    mkdocs_timeout=None,
                )
            )
        synthetic = next((s for s in sections if s.corpus.name == "synthetic"), None)
        if synthetic is not None and cfg.wants("synthetic", "mkdocs"):
            synthetic.skipped.clear()
            left = budget.remaining() - 10  # keep time for the report
            # MkDocs still running at 5.1x our build time proves the target: stop there
            enough = MKDOCS_STOP_RATIO * synthetic.build["wall"] if synthetic.build else left
            if not cfg.mkdocs_synthetic:
                synthetic.skipped.append("mkdocs: skipped in --quick mode")
            elif left < 60:
                synthetic.skipped.append(
                    f"mkdocs: skipped, only {max(0.0, left):.0f} s of the time budget left"
                )
            else:
                timeout = min(left, enough)
                with step(synthetic, f"mkdocs (stopped after {timeout:.0f} s at the latest)"):
                    mkdocs(synthetic, tmp_root / "synthetic", timeout)
    finally:
        if cfg.keep:
            log(f"kept {tmp_root}")
        else:
            shutil.rmtree(tmp_root, ignore_errors=True)
    return sections, budget.elapsed(), str(tmp_root)


# --- report ----------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def _ratio_mkdocs(s: Section) -> tuple[float | None, bool]:
    """(MkDocs wall / our full-build wall, True when MkDocs was stopped: a lower bound)."""
    if not s.build or not s.mkdocs:
        return None, False
    return s.mkdocs["wall"] / s.build["wall"], bool(s.mkdocs["timed_out"])


def _targets(sections: list[Section], cfg: Config) -> list[str]:
    by = {s.corpus.name: s for s in sections}
    rows = ["| target | measured | result |", "| --- | --- | --- |"]
    for name in ("real", "synthetic"):
        s = by.get(name)
        ratio, lower = _ratio_mkdocs(s) if s else (None, False)
        if s is None or (ratio is None and name == "synthetic"):
            continue
        measured = "–" if ratio is None else f"{'≥ ' if lower else ''}{ratio:.1f}×"
        if ratio is not None:
            assert s.mkdocs is not None and s.build is not None
            measured += f" ({s.mkdocs['wall']:.1f} s vs {s.build['wall']:.1f} s"
            if not lower:
                measured += f"; CPU time {s.mkdocs['cpu'] / s.build['cpu']:.1f}×"
            measured += ")"
        ok: bool | None = None
        if ratio is not None:
            # a stopped MkDocs gives a lower bound: enough to pass, not to miss
            ok = True if ratio >= TARGET_BUILD_RATIO else (None if lower else False)
        rows.append(
            f"| build ≥ {TARGET_BUILD_RATIO:.0f}× faster than MkDocs ({name}, "
            f"{s.corpus.articles:,} articles) | {measured} | {_verdict(ok)} |"
        )
    for name in ("real", "synthetic"):
        s = by.get(name)
        if not s or not s.search or "fts5" not in s.search:
            continue
        fts = s.search["fts5"]["p95"]
        checks = [("tantivy", TARGET_TANTIVY_RATIO)]
        if name == "real":
            checks.append(("whoosh", TARGET_WHOOSH_RATIO))
        for engine, target in checks:
            if engine not in s.search:
                continue
            p95 = s.search[engine]["p95"]
            rows.append(
                f"| {engine} p95 ≤ {target}× FTS5, snippets and facets ({name}) | "
                f"{p95 / fts:.2f}× ({p95:.1f} ms vs {fts:.1f} ms) | "
                f"{_verdict(p95 / fts <= target)} |"
            )
    for name in ("real", "synthetic"):
        s = by.get(name)
        if not s or not s.build or not s.build_tantivy:
            continue
        whoosh = s.build["report"]["index_seconds"]
        tantivy = s.build_tantivy["report"]["index_seconds"]
        ratio = tantivy / whoosh if whoosh else None
        rows.append(
            f"| tantivy index build ≤ {TARGET_INDEX_RATIO}× Whoosh's ({name}) | "
            f"{_f(ratio)}× ({tantivy:.2f} s vs {whoosh:.2f} s) | "
            f"{_verdict(None if ratio is None else ratio <= TARGET_INDEX_RATIO)} |"
        )
    for s in sections:
        if s.adversarial:
            rows += adversarial.target_rows(s.corpus.name, s.adversarial)
    s = by.get("synthetic")
    if s and s.incremental:
        wall = measure.median([e["wall"] for e in s.incremental["edits"]])
        inner = measure.median([e["report"]["seconds"] for e in s.incremental["edits"]])
        at_10k = s.corpus.articles >= 10_000
        label = f"incremental rebuild < {TARGET_INCREMENTAL:.0f} s at 10k articles"
        if not at_10k:
            label += f" (measured at {s.corpus.articles:,}: not the target size)"
        rows.append(
            f"| {label} | {wall:.2f} s wall ({inner:.2f} s inside build()) "
            f"| {_verdict(wall < TARGET_INCREMENTAL) if at_10k else 'n/a'} |"
        )
    return rows


def render_report(sections: list[Section], cfg: Config, elapsed: float, argv: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Knowledge-base benchmark",
        "",
        f"{now} · `{' '.join(['bench/run.py', *argv])}` · {'quick' if cfg.quick else 'full'} "
        f"run in {elapsed / 60:.1f} min · Python {platform.python_version()} · "
        f"{os.cpu_count()} CPUs · commit {cfg.commit or 'unknown'}"
        + (" with uncommitted changes in kb/portal/templates/static" if cfg.dirty else "")
        + (f" · code measured: {cfg.source} (--source)" if cfg.source != ROOT else "")
        + " (a copy taken at the start is what was measured)",
        "",
        "All numbers come from this one run on a shared, noisy machine: compare the ratios "
        "(measured side by side), not the absolute times with other runs. Load average "
        f"(1 min) {cfg.load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (which "
        "includes this run's own processes). Other processes competing for the 2 cores slow "
        "our 2-process build more than single-process MkDocs; the CPU-time columns are less "
        "sensitive to that.",
        "",
        "## Targets",
        "",
        *_targets(sections, cfg),
        "",
        "## Corpora",
        "",
        "| corpus | articles | categories | body words | prepared in | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in sections:
        c = s.corpus
        lines.append(
            f"| {c.name} | {c.articles:,} | {c.categories} | {c.words:,} | "
            f"{s.prepare_seconds:.1f} s | {'; '.join(c.notes)} |"
        )
    lines += [
        "",
        "## Full build (`kb.build.build`, clean, in a fresh interpreter)",
        "",
        "Wall time of the child process (interpreter start, imports and build); `build()` is "
        "the time inside `build()` (BuildReport.seconds). Peak RSS: the largest single "
        "process (`wait4`), and the peak sum over the process tree (render workers "
        "included, shared pages counted twice).",
        "",
        "| corpus | wall s | CPU s | build() s | import s | index s | static search s "
        "| articles/s | pages written | pages/s "
        "| peak RSS MB | tree RSS MB | site MB | index MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for s in sections:
        if not s.build:
            continue
        b, r = s.build, s.build["report"]
        lines.append(
            f"| {s.corpus.name} | {b['wall']:.2f} | {b['cpu']:.1f} | {r['seconds']:.2f} | "
            f"{r['import_seconds']:.2f} | {r['index_seconds']:.2f} | "
            f"{r['static_search_seconds']:.2f} ({r['static_search_shards']} bundles) | "
            f"{r['articles'] / b['wall']:,.0f} | "
            f"{r['pages_written']:,} | {r['pages_written'] / b['wall']:,.0f} | "
            f"{b['max_rss_mb']:.0f} | {b['tree_rss_mb']:.0f} | {b['site_mb']:.0f} | "
            f"{b['index_mb']:.0f} |"
        )
    engine_builds = [s for s in sections if s.build and s.build_tantivy]
    if engine_builds:
        lines += [
            "",
            "## Search index build, by engine",
            "",
            "The same full build (fresh interpreter, clean) with `search_engine=whoosh` (the "
            "default, above) and `search_engine=tantivy` (without the static search step); "
            "*index s* is the time of the indexing stage (`BuildReport.index_seconds`).",
            "",
            "| corpus | whoosh index s | tantivy index s | tantivy / whoosh | whoosh index MB "
            "| tantivy index MB | tantivy build wall s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in engine_builds:
            assert s.build is not None and s.build_tantivy is not None
            w, t = s.build, s.build_tantivy
            wi, ti = w["report"]["index_seconds"], t["report"]["index_seconds"]
            lines.append(
                f"| {s.corpus.name} | {wi:.2f} | {ti:.2f} | {_f(ti / wi if wi else None)}× | "
                f"{w['index_mb']:.0f} | {t['index_mb']:.0f} | {t['wall']:.2f} |"
            )
    lines += [
        "",
        "## Incremental rebuild",
        "",
        "Three times: append a sentence to one article's body, then build (not clean) in a "
        "fresh interpreter; median shown. Then three builds with no change.",
        "",
        "| corpus | edit: wall s (median) | edit: build() s | rendered | pages written | "
        "index updated | static search: bundles, s | no change: wall s | no change: build() s "
        "| rendered |",
        "| --- | ---: | ---: | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for s in sections:
        if not s.incremental:
            continue
        e, n = s.incremental["edits"], s.incremental["nochange"]

        def counts(runs: list[dict[str, Any]], key: str) -> str:
            return ", ".join(
                f"{r['report'][key]}{' (full)' if r['report']['full'] else ''}" for r in runs
            )

        lines.append(
            f"| {s.corpus.name} | {measure.median([x['wall'] for x in e]):.2f} | "
            f"{measure.median([x['report']['seconds'] for x in e]):.2f} | "
            f"{counts(e, 'rendered')} | {counts(e, 'pages_written')} | {counts(e, 'indexed')} | "
            + ", ".join(
                f"{x['report']['static_search_shards']} in "
                f"{x['report']['static_search_seconds']:.2f}"
                for x in e
            )
            + f" | {measure.median([x['wall'] for x in n]):.2f} | "
            f"{measure.median([x['report']['seconds'] for x in n]):.2f} | "
            f"{counts(n, 'rendered')} |"
        )
    lines += [
        "",
        "## MkDocs on the same Markdown",
        "",
        "`mkdocs build -q` (MkDocs 1.6.1, theme `mkdocs`, `use_directory_urls: false`, "
        "default `search` plugin) with `docs_dir` = the converted `content/articles`, in a "
        "fresh interpreter. MkDocs is single-process; our build renders with "
        f"{os.cpu_count()} worker processes (BuildOptions.procs default).",
        "",
        "| corpus | ours wall s | MkDocs wall s | MkDocs / ours | ours CPU s | MkDocs CPU s "
        "| CPU ratio | MkDocs pages | MkDocs peak RSS MB | MkDocs site MB | ours site MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sections:
        if not s.mkdocs:
            continue
        m = s.mkdocs
        ratio, lower = _ratio_mkdocs(s)
        wall = f"> {m['wall']:.0f} (stopped)" if m["timed_out"] else f"{m['wall']:.1f}"
        b = s.build or {}
        cpu_ratio = None if lower or not b else m["cpu"] / b["cpu"]
        lines.append(
            f"| {s.corpus.name} | {_f(b.get('wall'))} | {wall} | "
            f"{'≥ ' if lower else ''}{_f(ratio, 1)}× | {_f(b.get('cpu'), 1)} | "
            f"{m['cpu']:.1f} | {'–' if cpu_ratio is None else f'{cpu_ratio:.1f}×'} | "
            f"{m['pages'] or '–'} | "
            f"{m['max_rss_mb']:.0f} | {_f(m['site_mb'] or None, 0)} | "
            f"{_f(b.get('site_mb'), 0)} |"
        )
    for s in sections:
        for note in s.skipped:
            lines.append(f"\n- {s.corpus.name}: {note}")
    lines += [
        "",
        "## Search latency",
        "",
        "Two-word queries from title words (half from one title, half from two), top 10, "
        "after a warm-up; the engines run interleaved in one process, on their own builds "
        "of the same content. *whoosh*/*tantivy* = `Searcher.search(q, limit=10)` with "
        "default options (snippets and category facets); *bare* = `snippets=False, "
        "facets=False`; *last word typed half* = default options with the last word cut "
        "to its first four letters when it has more than five (search as you type: it is "
        "completed as a prefix); *FTS5* = SQLite FTS5 (porter tokenizer) on title, summary and the "
        "rendered body text, `snippet()` + `bm25()`, the words quoted and OR-ed. Every "
        "query is distinct; there is no result cache (the Whoosh engine keeps decoded "
        "postings per index generation, bounded).",
        "",
        "| corpus | engine | queries | p50 ms | p95 ms | p99 ms | mean ms | mean hits | no hits |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratio_lines = []
    labels = {
        "whoosh": "whoosh",
        "whoosh_bare": "whoosh, bare",
        "whoosh_typing": "whoosh, last word typed half",
        "tantivy": "tantivy",
        "tantivy_bare": "tantivy, bare",
        "tantivy_typing": "tantivy, last word typed half",
        "fts5": "FTS5",
    }
    for s in sections:
        if not s.search:
            continue
        for key, label in labels.items():
            r = s.search.get(key)
            if not r:
                continue
            lines.append(
                f"| {s.corpus.name} | {label} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{r['p99']:.1f} | {r['mean']:.1f} | {r['mean_hits']:.1f} | {r['empty']} |"
            )
        if "fts5" in s.search:
            f = s.search["fts5"]
            parts = []
            for engine in ("whoosh", "tantivy"):
                o, b = s.search.get(engine), s.search.get(f"{engine}_bare")
                if o and b:
                    parts.append(
                        f"{engine} / FTS5 = {o['p50'] / f['p50']:.2f}× at p50, "
                        f"{o['p95'] / f['p95']:.2f}× at p95 (bare {b['p95'] / f['p95']:.2f}×)"
                    )
            fts = s.search["fts"]
            ratio_lines.append(
                f"- {s.corpus.name}: " + "; ".join(parts) + ". FTS5 table: "
                f"{fts['rows']:,} rows, built in "
                f"{fts['render_seconds'] + fts['index_seconds']:.1f} s "
                f"(render with {os.cpu_count()} processes {fts['render_seconds']:.1f} s + insert "
                f"{fts['index_seconds']:.1f} s), {fts['db_mb']:.0f} MB."
            )
    lines += ["", *ratio_lines]
    rated = [s for s in sections if s.relevance]
    if rated:
        lines += [
            "",
            "## Relevance",
            "",
            "Labelled queries: `bench/queries-real.tsv` (customer phrasings with typos, real "
            "corpus) and the demo's dev set (`search-dev.tsv`). recall@3: the expected "
            "article (any of those listed) is in the top 3; MRR@10: mean of 1/rank in the top "
            "10. *baseline* = a plain Whoosh index of title (boost 2) and body "
            "(StemmingAnalyzer), the query's words OR-ed.",
            "",
            "| corpus | queries | engine | recall@3 | MRR@10 | misses (not in the top 3) |",
            "| --- | ---: | --- | ---: | ---: | --- |",
        ]
        for s in rated:
            assert s.relevance is not None
            for engine in ("whoosh", "tantivy", "baseline"):
                r = s.relevance.get(engine)
                if not r:
                    continue
                misses = "; ".join(r["misses"][:8]) + (" …" if len(r["misses"]) > 8 else "")
                lines.append(
                    f"| {s.corpus.name} | {r['queries']} | {engine} | {r['recall3']:.3f} | "
                    f"{r['mrr10']:.3f} | {misses or 'none'} |"
                )
    for s in sections:
        if s.adversarial:
            lines += adversarial.report_lines(s.corpus.name, s.corpus.articles, s.adversarial)
    servers = [s for s in sections if s.server]
    if servers:
        lines += [
            "",
            "## Server",
            "",
            "`uvicorn portal.asgi:app` on 127.0.0.1 with `PORTAL_BUILD_DIR` = the corpus "
            "build; sequential GET `/api/search?q=…` (urllib; snippets on, facets off, as "
            "the API does); RSS of the server process read with psutil.",
            "",
            "| corpus | ready after s | requests | errors | p50 ms | p95 ms | "
            "RSS when ready MB | RSS after requests MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in servers:
            v = s.server or {}
            lat = v.get("latency") or {}
            lines.append(
                f"| {s.corpus.name} | {v['ready_seconds']:.1f} | {v['requests']} | "
                f"{v['errors']} | {_f(lat.get('p50'), 1)} | {_f(lat.get('p95'), 1)} | "
                f"{v['rss_ready_mb']:.0f} | {v['rss_after_mb']:.0f} |"
            )
    profiled = [(s, k, v) for s in sections for k, v in s.profiles.items()]
    if profiled:
        lines += ["", "## Profiles (cProfile, sorted by cumulative time)"]
        for s, what, text in profiled:
            lines += ["", f"### {s.corpus.name}: {what}", "", "```text", text, "```"]
    errors = [(s.corpus.name, e) for s in sections for e in s.errors]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {name}: {e}" for name, e in errors]
    lines.append("")
    return "\n".join(lines)


# --- CLI ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these measurements ({', '.join(MEASUREMENTS)}) and/or corpora "
        f"({', '.join(CORPORA)}); repeat or comma-separate. A build always runs first. "
        "`triage` (request-type ranking accuracy, bench/triage_accuracy.py) needs no build.",
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="time budget in seconds (default 700; 240 quick)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the last incremental rebuild and the searches; adds the top functions "
        "to the report (profiling slows those steps)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "latest.md", help="where to write the report"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="measure the kb/, portal/, templates/ and static/ found in this directory "
        "(e.g. a `git archive` of an older commit) instead of the working tree",
    )
    ns = parser.parse_args(argv)
    only = {n.strip() for item in ns.only for n in item.split(",") if n.strip()}
    unknown = only - set(MEASUREMENTS) - set(CORPORA) - {"triage"}
    if unknown:
        parser.error(f"unknown --only name(s): {', '.join(sorted(unknown))}")
    return Config(
        quick=ns.quick,
        budget=ns.budget or (240.0 if ns.quick else 700.0),
        only=only,
        keep=ns.keep,
        profile=ns.profile,
        real_every=8 if ns.quick else 1,
        synthetic_count=1000 if ns.quick else 10_000,
        queries=100 if ns.quick else 200,
        server_requests=50 if ns.quick else 200,
        mkdocs_synthetic=not ns.quick,
        output=ns.output,
        source=ns.source.resolve(),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_args(argv)
    if "triage" in cfg.only:  # request-type ranking: no build, no corpus (triage_accuracy.py)
        import triage_accuracy

        lines = triage_accuracy.report_lines(triage_accuracy.measure_all("HEAD"), misses="held")
        (RESULTS / "triage.md").write_text("\n".join(["# Triage benchmark", *lines, ""]), "utf-8")
        print("\n".join(lines))
        log(f"report written to {RESULTS / 'triage.md'}")
        cfg.only.discard("triage")
        if not cfg.only:
            return 0
    sections, elapsed, _tmp = run(cfg)
    report = render_report(sections, cfg, elapsed, argv)
    output = cfg.output
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(report, "utf-8")
    os.replace(tmp, output)
    print(report)
    log(f"report written to {output}")
    return 1 if any(s.errors for s in sections) else 0


if __name__ == "__main__":
    raise SystemExit(main())
