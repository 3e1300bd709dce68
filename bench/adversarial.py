"""Adversarial searches: the worst query against the median normal query, and how long
``/healthz`` waits while clients send such queries (issue #10, item 2).

    .venv/bin/python bench/run.py --only adversarial          # real corpus, this part only
    .venv/bin/python bench/run.py --only adversarial --quick  # every 8th real article

Steps (``run.py`` calls :func:`measure_all` after the full build of ``real``):

1. *timing* (a fresh interpreter, :func:`task_timing`): every query of
   ``bench/adversarial.txt`` and the normal two-word title queries, interleaved, through
   ``Searcher.search(q, limit=10)``; the median of three runs per adversarial query
   (bounded: no further rounds once 240 s have been spent on them).
2. five one-article incremental rebuilds (wall time each, index segments after), then
   the timing again: incremental updates add index segments, which slow queries.
3. *flood*: ``uvicorn portal.asgi:app`` on 127.0.0.1; two clients send adversarial
   queries (``/api/search``, ``/api/triage`` and the wizard's ``/request/suggest`` in
   turn) for 20 s while a third asks ``/healthz`` every 50 ms and a fourth searches
   ``password reset`` every 250 ms. Bounded in time and count; the server is always
   stopped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import measure

BENCH = Path(__file__).resolve().parent
QUERIES_FILE = BENCH / "adversarial.txt"
TARGET_RATIO = 10.0  # worst adversarial query / median normal query
TARGET_HEALTHZ_P95_MS = 50.0
FLOOD_SECONDS = 20.0
FLOOD_CLIENTS = 2
MAX_FLOOD_REQUESTS = 20_000
REPEATS = 3
EDITS = 5
NORMAL_UNDER_ATTACK = "password reset"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def load_queries(path: Path = QUERIES_FILE) -> list[str]:
    """One query per line; blank lines and lines starting with '#' are skipped."""
    lines = path.read_text("utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


# --- child task: per-query timing ------------------------------------------------------


def _segments(index_dir: Path) -> int:
    from whoosh import index

    ix = index.open_dir(str(index_dir))
    try:
        return len(ix._segments())
    finally:
        ix.close()


def task_timing(args: dict[str, Any]) -> dict[str, Any]:
    """Adversarial and normal queries through one Searcher, interleaved."""
    from kb import layout
    from kb.search import Searcher

    out_dir = Path(args["out_dir"])
    normal: list[str] = args["normal"]
    adversarial: list[str] = args["adversarial"]
    repeats: int = args.get("repeats", REPEATS)
    searcher = Searcher(lambda: layout.index_dir(out_dir))
    index_dir = layout.index_dir(out_dir)
    assert index_dir is not None

    def run(q: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        result = searcher.search(q, limit=10)
        return time.perf_counter() - t0, len(result.hits)

    for q in normal[:20]:  # warm-up
        run(q)
    normal_times: list[float] = []
    per_query: dict[int, list[float]] = {i: [] for i in range(len(adversarial))}
    hits: dict[int, int] = {}
    # each adversarial query runs `repeats` times, spread over the normal queries
    schedule = [i for _ in range(repeats) for i in range(len(adversarial))]
    step = max(1, len(normal) // max(1, len(schedule)))
    # bounded: once every query has run, further rounds stop after max_seconds
    max_seconds: float = args.get("max_seconds", 240.0)
    spent = 0.0

    def adversarial_once() -> None:
        nonlocal spent
        i = schedule.pop(0)
        if per_query[i] and spent > max_seconds:
            schedule.clear()
            return
        seconds, hits[i] = run(adversarial[i])
        per_query[i].append(seconds)
        spent += seconds

    for k, q in enumerate(normal):
        normal_times.append(run(q)[0])
        if k % step == 0 and schedule:
            adversarial_once()
    while schedule:
        adversarial_once()
    rows = [
        {
            "query": adversarial[i][:60] + ("…" if len(adversarial[i]) > 60 else ""),
            "median_ms": measure.median(times) * 1000,
            "max_ms": max(times) * 1000,
            "runs": len(times),
            "hits": hits[i],
        }
        for i, times in per_query.items()
    ]
    rows.sort(key=lambda r: -float(r["median_ms"]))
    result: dict[str, Any] = {
        "segments": _segments(index_dir),
        "normal": measure.summarize_ms(normal_times),
        "adversarial": rows,
    }
    policy_file = args.get("policy_file")
    if policy_file:  # the same texts through request-type suggestions (pure, no index)
        from kb.policy import load_policy
        from kb.policy.suggest import suggest

        policy, _ = load_policy(Path(policy_file))
        if policy is not None:
            synonyms = searcher.synonym_groups()
            times = []
            for q in adversarial:
                t0 = time.perf_counter()
                suggest(policy, q[:2000], synonyms=synonyms, limit=4)
                times.append(time.perf_counter() - t0)
            result["suggest"] = measure.summarize_ms(times)
    return result


# --- flood against a real server -------------------------------------------------------


class _Client:
    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def call(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")
        except OSError:
            return 0, ""


def _timed(
    client: _Client, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[float, int]:
    t0 = time.perf_counter()
    status, _ = client.call(path, data, headers)
    return time.perf_counter() - t0, status


def flood(
    build_dir: Path,
    content_dir: Path,
    adversarial: Sequence[str],
    work_dir: Path,
    *,
    policy_file: Path | None = None,
    seconds: float = FLOOD_SECONDS,
    clients: int = FLOOD_CLIENTS,
    start_timeout: float = 60.0,
) -> dict[str, Any]:
    """``clients`` attackers for ``seconds`` against a real uvicorn; /healthz and a
    normal search measured meanwhile. The server is always stopped."""
    port = measure._free_port()
    base = f"http://127.0.0.1:{port}"
    work_dir.mkdir(parents=True, exist_ok=True)
    env = measure.child_env(
        PORTAL_BUILD_DIR=str(build_dir),
        PORTAL_CONTENT_DIR=str(content_dir),
        PORTAL_DATABASE_URL=f"sqlite:///{work_dir / 'portal.db'}",
        PORTAL_UPLOAD_DIR=str(work_dir / "uploads"),
        PORTAL_ALLOWED_HOSTS="127.0.0.1,localhost",
        PORTAL_SECRET_KEY="bench-adversarial",
        # attackers would be limited per address; the limits are not what is measured
        PORTAL_RATE_LIMITS="1000000/3600,1000000/3600",
    )
    if policy_file is not None:
        env["PORTAL_POLICY"] = str(policy_file)
    argv = [measure.PYTHON, "-m", "uvicorn", "portal.asgi:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work_dir,
            start_new_session=True,
        )
        try:
            probe = _Client(base)
            deadline = time.monotonic() + start_timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if probe.call("/healthz")[0] == 200:
                    break
                time.sleep(0.1)
            else:
                log.seek(0)
                raise RuntimeError(f"server did not become ready: {log.read()[-2000:]}")
            return _attack(base, adversarial, seconds=seconds, clients=clients)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _attack(
    base: str, adversarial: Sequence[str], *, seconds: float, clients: int
) -> dict[str, Any]:
    lock = threading.Lock()
    times: dict[str, list[float]] = {"healthz": [], "normal": []}
    attacks: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    count = 0
    stop_at = time.monotonic() + seconds

    def running() -> bool:
        return time.monotonic() < stop_at and count < MAX_FLOOD_REQUESTS

    def record(kind: str, table: dict[str, list[float]], elapsed: float, ok: bool) -> None:
        nonlocal count
        with lock:
            count += 1
            table.setdefault(kind, []).append(elapsed)
            if not ok:
                errors[kind] = errors.get(kind, 0) + 1

    def attacker(n: int) -> None:
        client = _Client(base)
        _, page = client.call("/request")
        match = CSRF.search(page)
        csrf = match.group(1) if match else ""
        k = n
        while running():
            q = adversarial[k % len(adversarial)]
            kind = ("search", "triage", "suggest")[k % 3]
            k += 1
            if kind == "search":
                path = "/api/search?" + urllib.parse.urlencode({"q": q})
                elapsed, status = _timed(client, path)
            elif kind == "triage":
                body = json.dumps({"text": q}).encode()
                elapsed, status = _timed(
                    client, "/api/triage", body, {"Content-Type": "application/json"}
                )
            else:
                form = urllib.parse.urlencode({"csrf_token": csrf, "text": q}).encode()
                elapsed, status = _timed(client, "/request/suggest", form, {"HX-Request": "true"})
            # 503: no policy configured (triage, suggest)
            record(kind, attacks, elapsed, status in (200, 503))

    def prober(path: str, kind: str, every: float) -> None:
        client = _Client(base)
        while running():
            elapsed, status = _timed(client, path)
            record(kind, times, elapsed, status == 200)
            time.sleep(every)

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=prober, args=("/healthz", "healthz", 0.05)))
    normal = "/api/search?" + urllib.parse.urlencode({"q": NORMAL_UNDER_ATTACK})
    threads.append(threading.Thread(target=prober, args=(normal, "normal", 0.25)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)  # every request has a 30 s timeout
    return {
        "seconds": seconds,
        "clients": clients,
        "requests": count,
        "errors": errors,
        "healthz": measure.summarize_ms(times["healthz"]) if times["healthz"] else {},
        "normal": measure.summarize_ms(times["normal"]) if times["normal"] else {},
        "attacks": {k: measure.summarize_ms(v) for k, v in attacks.items() if v},
    }


# --- the whole measurement (called by run.py) ------------------------------------------


def _edit(path: Path, n: int) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\nAdversarial benchmark edit {n}: one more sentence.\n")


def measure_all(
    out_dir: Path,
    content_dir: Path,
    paths: Sequence[Path],
    normal: Sequence[str],
    build_args: dict[str, Any],
    tmp: Path,
    *,
    policy_source: Path | None = None,
    edits: int = EDITS,
    seconds: float = FLOOD_SECONDS,
) -> dict[str, Any]:
    adversarial = load_queries()
    tmp.mkdir(parents=True, exist_ok=True)
    policy_file = None
    if policy_source is not None and policy_source.is_file():
        policy_file = tmp / "policy.yaml"
        shutil.copyfile(policy_source, policy_file)
    args = {
        "out_dir": str(out_dir),
        "normal": list(normal),
        "adversarial": adversarial,
        "policy_file": str(policy_file) if policy_file else None,
    }
    fresh = measure.run_task("adversarial", args, timeout=900).json()
    rebuilds = []
    for n in range(1, edits + 1):  # a different article each time
        _edit(paths[len(paths) * n // (edits + 1)], n)
        child = measure.run_task("build", build_args, timeout=300)
        report = child.json()
        rebuilds.append({"wall": child.wall, "seconds": report["seconds"]})
    edited = measure.run_task("adversarial", args, timeout=900).json()
    attack = flood(
        out_dir, content_dir, adversarial, tmp / "flood", policy_file=policy_file, seconds=seconds
    )
    return {
        "queries": len(adversarial),
        "fresh": fresh,
        "rebuilds": rebuilds,
        "edited": edited,
        "flood": attack,
    }


def _ms(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.1f}" if summary and key in summary else "–"


def report_lines(corpus: str, articles: int, data: dict[str, Any]) -> list[str]:
    """The Markdown section for run.py's report."""
    lines = [
        "",
        "## Adversarial searches",
        "",
        f"{data['queries']} queries from `bench/adversarial.txt` (unknown 4–24-letter words, "
        "near-miss typos, repeated and 256-letter words, frequent words, mixed scripts) "
        "interleaved with the normal two-word title queries, through "
        f"`Searcher.search(q, limit=10)` on `{corpus}` ({articles:,} articles); per "
        f"adversarial query the median of {REPEATS} runs (fewer when 240 s have been spent). "
        f"Then {len(data['rebuilds'])} "
        "one-article incremental rebuilds and the same again.",
        "",
        "| index | segments | normal p50 ms | normal p95 ms | worst adversarial ms | "
        "worst / normal p50 | slowest query | suggest() max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for label, key in (("after the full build", "fresh"), ("after the rebuilds", "edited")):
        t = data[key]
        worst = t["adversarial"][0]
        ratio = worst["median_ms"] / t["normal"]["p50"]
        verdict = "**PASS**" if ratio <= TARGET_RATIO else "**MISS**"
        lines.append(
            f"| {label} | {t['segments']} | {t['normal']['p50']:.1f} | {t['normal']['p95']:.1f} "
            f"| {worst['median_ms']:.1f} | {ratio:.1f}× (target ≤ {TARGET_RATIO:.0f}×) "
            f"{verdict} | `{worst['query'][:40]}` | {_ms(t.get('suggest', {}), 'max')} |"
        )
    walls = [r["wall"] for r in data["rebuilds"]]
    inner = [r["seconds"] for r in data["rebuilds"]]
    lines += [
        "",
        f"One-article incremental rebuilds: median {measure.median(walls):.2f} s wall "
        f"({measure.median(inner):.2f} s inside build()), max {max(walls):.2f} s.",
        "",
        "Slowest five after the rebuilds (median ms / max ms / hits): "
        + "; ".join(
            f"`{r['query'][:32]}` {r['median_ms']:.0f} / {r['max_ms']:.0f} / {r['hits']}"
            for r in data["edited"]["adversarial"][:5]
        )
        + ".",
    ]
    f = data["flood"]
    h = f["healthz"]
    ok = bool(h) and h["p95"] < TARGET_HEALTHZ_P95_MS
    lines += [
        "",
        f"Flood: `uvicorn` on 127.0.0.1, {f['clients']} clients sending adversarial queries "
        f"(`/api/search`, `/api/triage`, `/request/suggest` in turn) for {f['seconds']:.0f} s; "
        f"meanwhile `/healthz` every 50 ms and `{NORMAL_UNDER_ATTACK}` every 250 ms. "
        f"{f['requests']} requests, errors: {f['errors'] or 'none'}.",
        "",
        "| request | n | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `/healthz` (target p95 < {TARGET_HEALTHZ_P95_MS:.0f} ms: "
        f"{'**PASS**' if ok else '**MISS**'}) | {h.get('n', 0)} | {_ms(h, 'p50')} | "
        f"{_ms(h, 'p95')} | {_ms(h, 'max')} |",
        f"| normal search under attack | {f['normal'].get('n', 0)} | {_ms(f['normal'], 'p50')} "
        f"| {_ms(f['normal'], 'p95')} | {_ms(f['normal'], 'max')} |",
    ]
    for kind, s in sorted(f["attacks"].items()):
        lines.append(
            f"| attacker: {kind} | {s['n']} | {_ms(s, 'p50')} | {_ms(s, 'p95')} | {_ms(s, 'max')} |"
        )
    return lines


def target_rows(corpus: str, data: dict[str, Any]) -> list[str]:
    """Rows for the report's Targets table."""
    rows = []
    t = data["edited"]
    worst = t["adversarial"][0]["median_ms"]
    ratio = worst / t["normal"]["p50"]
    rows.append(
        f"| worst adversarial query ≤ {TARGET_RATIO:.0f}× the median normal query ({corpus}, "
        f"{t['segments']} segments) | {ratio:.1f}× ({worst:.1f} ms vs {t['normal']['p50']:.1f} ms)"
        f" | {'**PASS**' if ratio <= TARGET_RATIO else '**MISS**'} |"
    )
    h = data["flood"]["healthz"]
    if h:
        ok = h["p95"] < TARGET_HEALTHZ_P95_MS
        rows.append(
            f"| `/healthz` p95 < {TARGET_HEALTHZ_P95_MS:.0f} ms while {data['flood']['clients']} "
            f"clients send adversarial queries ({corpus}) | {h['p95']:.1f} ms (n = {h['n']}) "
            f"| {'**PASS**' if ok else '**MISS**'} |"
        )
    return rows
