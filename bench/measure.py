"""Timing helpers, and the tasks that run in child processes.

The parent (``run.py``) starts every measured step as a fresh interpreter with
:func:`run_child`, so wall time includes interpreter start-up and imports, and the
child's peak RSS is read from ``wait4()`` (largest single process) and from psutil
polling (sum over the process tree, which counts pages shared by forked workers
more than once).

Child tasks: ``python bench/measure.py TASK JSON_ARGS`` prints one JSON object on the
last line of stdout.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# where children import kb and portal from: run.py points this at a copy of the source
# taken when the run starts, so that edits made during a run cannot mix versions
SOURCE: Path = ROOT
POLL_SECONDS = 0.05


# --- helpers used by the parent ----------------------------------------------------


@dataclass
class ChildResult:
    argv: list[str]
    returncode: int | None  # None when it was stopped at the timeout
    wall: float
    max_rss_mb: float  # ru_maxrss of the largest process in the tree (wait4)
    cpu: float  # user + system seconds of the child and the children it waited for
    tree_rss_mb: float  # peak of the summed RSS of the process tree (psutil polling)
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def json(self) -> dict[str, Any]:
        """The JSON object a child task printed on its last stdout line."""
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        if not self.ok or not lines:
            tail = (self.stderr or self.stdout)[-2000:]
            raise RuntimeError(f"child failed (rc={self.returncode}): {tail}")
        data: dict[str, Any] = json.loads(lines[-1])
        return data


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env.update(extra)
    return env


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_child(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> ChildResult:
    """Run ``argv`` to completion, measuring wall time and peak RSS.

    The child gets its own session; at the timeout the whole group is killed (these
    are processes this harness started) and ``timed_out`` is set.
    """
    with (
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out,
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as err,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=err,
            env=env or child_env(),
            cwd=cwd,
            start_new_session=True,
        )
        peak_tree = 0
        status = None
        rusage = None
        timed_out = False
        try:
            while True:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, rusage = st, ru
                    break
                peak_tree = max(peak_tree, _tree_rss(proc.pid))
                if timeout is not None and time.perf_counter() - started > timeout:
                    timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)
                    _, status, rusage = os.wait4(proc.pid, 0)
                    break
                time.sleep(POLL_SECONDS)
        except BaseException:
            if status is None:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
            raise
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            argv=list(argv),
            returncode=None if timed_out else proc.returncode,
            wall=wall,
            max_rss_mb=(rusage.ru_maxrss / 1024) if rusage else 0.0,  # KiB on Linux
            cpu=(rusage.ru_utime + rusage.ru_stime) if rusage else 0.0,
            tree_rss_mb=peak_tree / 2**20,
            stdout=out.read(),
            stderr=err.read(),
            timed_out=timed_out,
        )


def run_task(task: str, args: dict[str, Any], *, timeout: float | None = None) -> ChildResult:
    """Run one of this module's child tasks in a fresh interpreter."""
    return run_child(
        [PYTHON, str(Path(__file__).resolve()), task, json.dumps(args)], timeout=timeout
    )


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms),
        "max": max(ms),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _servers() -> ModuleType:
    """tests/support/servers.py, the one way the tests and the benchmarks start the
    portal (standard library only). From the repository: SOURCE holds only the
    package. Appended to sys.path, so it cannot shadow anything else."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tests.support import servers

    return servers


def _free_port() -> int:
    port: int = _servers().free_port()
    return port


def serve_and_query(
    build_dir: Path,
    content_dir: Path,
    queries: Sequence[str],
    work_dir: Path,
    *,
    start_timeout: float = 60.0,
    max_seconds: float = 90.0,
) -> dict[str, Any]:
    """Start ``uvicorn portal.asgi:app`` on 127.0.0.1, send the queries to /api/search
    one after another, and read the server's RSS before and after. The server is
    always stopped, whatever happens. Everything the app writes (database, uploads)
    goes to ``work_dir``, which is also its working directory."""
    import psutil

    servers = _servers()
    # never go through a proxy, whatever the environment says
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    work_dir.mkdir(parents=True, exist_ok=True)
    env = child_env(
        PORTAL_BUILD_DIR=str(build_dir),
        PORTAL_CONTENT_DIR=str(content_dir),
        PORTAL_DATABASE_URL=f"sqlite:///{work_dir / 'portal.db'}",
        PORTAL_UPLOAD_DIR=str(work_dir / "uploads"),
        PORTAL_ALLOWED_HOSTS="127.0.0.1,localhost",
    )

    def command(port: int) -> list[str]:
        return list(servers.uvicorn_command(port, extra=["--no-access-log"]))

    with (
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log,
        servers.start_server(
            env,
            command=command,
            timeout=start_timeout,
            cwd=work_dir,
            output=log,
            new_session=True,
        ) as live,
    ):
        base = live.url
        server = psutil.Process(live.process.pid)
        rss_ready = server.memory_info().rss
        times: list[float] = []
        hits = 0
        errors = 0
        loop_started = time.perf_counter()
        for q in queries:
            if time.perf_counter() - loop_started > max_seconds:
                break
            url = base + "/api/search?" + urllib.parse.urlencode({"q": q})
            t0 = time.perf_counter()
            try:
                with opener.open(url, timeout=10) as resp:
                    data = json.loads(resp.read())
                hits += len(data.get("hits", []))
            except (urllib.error.URLError, OSError, ValueError):
                errors += 1
            times.append(time.perf_counter() - t0)
        rss_after = server.memory_info().rss
        return {
            "ready_seconds": live.ready_seconds,
            "requests": len(times),
            "errors": errors,
            "mean_hits": hits / max(1, len(times)),
            "rss_ready_mb": rss_ready / 2**20,
            "rss_after_mb": rss_after / 2**20,
            "latency": summarize_ms(times) if times else {},
        }


def task_build(args: dict[str, Any]) -> dict[str, Any]:
    """One kb.build.build() call; the imports are part of what is measured."""
    started = time.perf_counter()
    from kb.build import BuildOptions, build

    imported = time.perf_counter()
    options = BuildOptions(
        content_dir=Path(args["content_dir"]),
        out_dir=Path(args["out_dir"]),
        clean=bool(args.get("clean", False)),
        use_git_dates=False,
        search_engine=str(args.get("search_engine", "whoosh")),
        static_search=bool(args.get("static_search", True)),
    )
    if args.get("templates_dir"):  # a snapshot taken when the run started
        options.templates_dir = Path(args["templates_dir"])
        options.static_dir = Path(args["static_dir"])
    if args.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        report = profiler.runcall(build, options)
        profiler.dump_stats(args["profile"])
    else:
        report = build(options)
    data = asdict(report)
    data["problems"] = len(report.problems)
    data["import_seconds"] = imported - started
    data["total_seconds"] = time.perf_counter() - started
    return data


@dataclass
class _Timer:
    name: str
    run: Callable[[str], tuple[int, int]]  # query -> (hits, total)
    times: list[float] = field(default_factory=list)
    hits: int = 0
    empty: int = 0


def _plain_text(job: tuple[str, int]) -> str:
    from kb.render import render_markdown

    return render_markdown(job[0], body_line=job[1]).text


def _fts_table(content_dir: Path, db_path: Path) -> tuple[sqlite3.Connection, dict[str, Any]]:
    """A bare FTS5 table of the same articles (body = rendered plain text)."""
    from kb import content as content_mod

    started = time.perf_counter()
    content = content_mod.load(content_dir)
    loaded = time.perf_counter()
    articles = [a for a in content.articles if not a.draft]
    bodies = [(a.body, a.body_line) for a in articles]
    if len(bodies) >= 500:  # like our builder: all cores, forked workers
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(os.cpu_count() or 1) as pool:
            texts = pool.map(_plain_text, bodies, chunksize=64)
    else:
        texts = [_plain_text(b) for b in bodies]
    rows = [(a.title, a.summary, text) for a, text in zip(articles, texts, strict=True)]
    rendered = time.perf_counter()
    con = sqlite3.connect(db_path)
    con.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, summary, body, tokenize='porter unicode61')"
    )
    con.executemany("INSERT INTO docs(title, summary, body) VALUES (?, ?, ?)", rows)
    con.commit()
    done = time.perf_counter()
    return con, {
        "rows": len(rows),
        "load_seconds": loaded - started,
        "render_seconds": rendered - loaded,
        "index_seconds": done - rendered,
        "db_mb": db_path.stat().st_size / 2**20,
    }


FTS_SQL = (
    "SELECT rowid, snippet(docs, 2, '<mark>', '</mark>', '…', 12), bm25(docs) "
    "FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10"
)


def fts_match(query: str) -> str:
    """Each word quoted (no FTS5 syntax can leak in), OR-ed."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in query.split())


def task_search(args: dict[str, Any]) -> dict[str, Any]:
    """Latency of kb.search.Searcher on each engine's build (default options and bare)
    and of FTS5.

    The variants are interleaved query by query, in an order that rotates, so that a
    noisy neighbour slows all of them alike.
    """
    from kb import layout
    from kb.search import Searcher

    builds: dict[str, str] = args.get("engines") or {"whoosh": args["out_dir"]}
    queries: list[str] = args["queries"]
    warmup: int = args.get("warmup", 20)
    searchers = {
        name: Searcher(lambda d=Path(out): layout.index_dir(d)) for name, out in builds.items()
    }

    def default(searcher: Any) -> Callable[[str], tuple[int, int]]:
        def run(q: str) -> tuple[int, int]:
            r = searcher.search(q, limit=10)
            return len(r.hits), r.total

        return run

    def bare(searcher: Any) -> Callable[[str], tuple[int, int]]:
        def run(q: str) -> tuple[int, int]:
            r = searcher.search(q, limit=10, snippets=False, facets=False)
            return len(r.hits), r.total

        return run

    def typing(searcher: Any) -> Callable[[str], tuple[int, int]]:
        """The same query while its last word is still being typed (its first four
        letters, when it has more than five): search as you type."""

        def run(q: str) -> tuple[int, int]:
            *first, last = q.split()
            partial = " ".join([*first, last[:4] if len(last) > 5 else last])
            r = searcher.search(partial, limit=10)
            return len(r.hits), r.total

        return run

    timers = []
    for name, searcher in searchers.items():
        timers += [_Timer(name, default(searcher)), _Timer(f"{name}_bare", bare(searcher))]
        timers.append(_Timer(f"{name}_typing", typing(searcher)))
    fts_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-fts-") as tmp:
        con = None
        if args.get("fts", True):
            con, fts_info = _fts_table(Path(args["content_dir"]), Path(tmp) / "fts.db")
            db = con

            def fts(q: str) -> tuple[int, int]:
                rows = db.execute(FTS_SQL, (fts_match(q),)).fetchall()
                return len(rows), len(rows)

            timers.append(_Timer("fts5", fts))
        for q in queries[:warmup]:
            for t in timers:
                t.run(q)
        for i, q in enumerate(queries):
            k = i % len(timers)
            for t in timers[k:] + timers[:k]:
                t0 = time.perf_counter()
                hits, _total = t.run(q)
                t.times.append(time.perf_counter() - t0)
                t.hits += hits
                t.empty += hits == 0
        if args.get("profile"):  # a separate pass: profiling must not skew the timings
            import cProfile

            profiler = cProfile.Profile()
            first = default(next(iter(searchers.values())))
            for q in queries:
                profiler.runcall(first, q)
            profiler.dump_stats(args["profile"])
        if con is not None:
            con.close()
    result: dict[str, Any] = {"fts": fts_info, "queries": len(queries), "warmup": warmup}
    for t in timers:
        result[t.name] = summarize_ms(t.times) | {
            "mean_hits": t.hits / len(queries),
            "empty": t.empty,
        }
    return result


def _rank(found: list[str], expected: list[str]) -> int | None:
    return next((i for i, slug in enumerate(found, 1) if slug in expected), None)


def _relevance(search: Callable[[str], list[str]], rows: list[list[Any]]) -> dict[str, Any]:
    """recall@3 (the expected article in the top 3) and MRR@10 over ``rows``."""
    top3 = 0
    reciprocal = 0.0
    misses = []
    for q, expected in rows:
        rank = _rank(search(q)[:10], expected)
        if rank is not None and rank <= 3:
            top3 += 1
        else:
            misses.append(f"{q} ({'rank ' + str(rank) if rank else 'not in top 10'})")
        reciprocal += 1 / rank if rank else 0.0
    n = max(1, len(rows))
    return {"queries": len(rows), "recall3": top3 / n, "mrr10": reciprocal / n, "misses": misses}


def _baseline_index(content_dir: Path, index_dir: Path) -> Any:
    """The baseline: a plain Whoosh index (StemmingAnalyzer) of title (boost 2) and
    rendered body text, searched with an OR of the query's words."""
    from whoosh import index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema

    from kb import content as content_mod

    analyzer = StemmingAnalyzer()
    schema = Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, field_boost=2.0),
        body=TEXT(analyzer=analyzer),
    )
    index_dir.mkdir(parents=True)
    ix = index.create_in(str(index_dir), schema)
    writer = ix.writer(limitmb=256)
    content = content_mod.load(content_dir)
    for a in content.articles:
        if not a.draft:
            text = f"{a.summary}\n{_plain_text((a.body, a.body_line))}"
            writer.add_document(slug=a.slug, title=a.title, body=text)
    writer.commit()
    return ix


def task_relevance(args: dict[str, Any]) -> dict[str, Any]:
    """recall@3 and MRR@10 of each engine's build on labelled queries, next to the
    baseline (a plain Whoosh OR query with a title boost)."""
    from whoosh import qparser

    from kb import layout
    from kb.search import Searcher

    rows: list[list[Any]] = args["rows"]
    result: dict[str, Any] = {}
    for name, out in args["engines"].items():
        searcher = Searcher(lambda d=Path(out): layout.index_dir(d))
        result[name] = _relevance(
            lambda q, s=searcher: [h.slug for h in s.search(q, limit=10).hits], rows
        )
    with tempfile.TemporaryDirectory(prefix="kb-bench-baseline-") as tmp:
        ix = _baseline_index(Path(args["content_dir"]), Path(tmp) / "index")
        parser = qparser.MultifieldParser(["title", "body"], ix.schema, group=qparser.OrGroup)
        with ix.searcher() as s:

            def baseline(q: str) -> list[str]:
                words = " ".join(w for w in q.replace('"', " ").split() if w.isalnum())
                return [hit["slug"] for hit in s.search(parser.parse(words), limit=10)]

            result["baseline"] = _relevance(baseline, rows)
    return result


def task_adversarial(args: dict[str, Any]) -> dict[str, Any]:
    import adversarial  # bench/adversarial.py (it imports this module)

    return adversarial.task_timing(args)


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "build": task_build,
    "search": task_search,
    "relevance": task_relevance,
    "adversarial": task_adversarial,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in TASKS:
        print(f"usage: {argv[0]} {{{','.join(TASKS)}}} JSON_ARGS", file=sys.stderr)
        return 2
    result = TASKS[argv[1]](json.loads(argv[2]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
