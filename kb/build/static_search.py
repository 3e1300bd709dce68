"""Search without the portal: a client-side index (Pagefind) inside the static site.

``site/search.html`` (templates/site/search.html with static/js/static-search.js)
searches it in the browser on any static host; served by the portal, the same page
hands the query to the portal's ``/search``.

Pagefind cannot update an index, and indexing costs about 4 ms of CPU per page (10 s
for the 2,448 real articles), far more than an incremental build. So the articles are
split into shards by a hash of their slug (one shard up to SHARD_PAGES articles, then
2, 4, … up to MAX_SHARDS), each a Pagefind bundle ``site/pagefind/<shard>/``, and a
build runs Pagefind only for the shards whose articles' pages changed; the browser
merges the bundles (Pagefind's ``mergeIndex``). The site directory starts as a
hard-linked copy of the previous generation, so unchanged bundles cost nothing.
``site/pagefind/bundles.json`` lists the bundles.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from kb import layout
from kb.build.plan import Plan, Run
from kb.build.state import fingerprint

PAGEFIND_DIR = "pagefind"
BUNDLES_FILE = "bundles.json"
SHARD_PAGES = 200
MAX_SHARDS = 64
PAGEFIND_TIMEOUT = 600  # seconds for one bundle
# what the browser needs of a bundle; the rest (Pagefind's own UIs) is removed
_UNUSED = ("pagefind-ui", "pagefind-component-ui", "pagefind-modular-ui", "pagefind-highlight")


def enabled(options_static: bool, preview: bool) -> bool:
    return options_static and not preview


def shard_count(articles: int) -> int:
    if articles <= SHARD_PAGES:
        return 1
    shards: int = 2 ** math.ceil(math.log2(articles / SHARD_PAGES))
    return min(MAX_SHARDS, shards)


def shard_of(slug: str, count: int) -> str:
    digest = hashlib.sha1(slug.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"s{int(digest[:8], 16) % count:02d}"


def pagefind_executable() -> str:
    """The Pagefind binary shipped in the ``pagefind[bin]`` wheel (or on PATH)."""
    with contextlib.suppress(ImportError, FileNotFoundError):
        module = importlib.import_module("pagefind_bin")
        return str(module.get_executable())
    found = shutil.which("pagefind")
    if found:
        return found
    raise RuntimeError(
        "the static search index needs Pagefind: pip install 'pagefind[bin]' "
        "(or build with BuildOptions(static_search=False))"
    )


def update_static_search(run: Run, plan: Plan) -> None:
    options, report, state = run.options, run.report, run.state
    root = run.generation.site / PAGEFIND_DIR
    if not enabled(options.static_search, options.preview):
        shutil.rmtree(root, ignore_errors=True)
        state.static_search = {}
        return
    started = time.perf_counter()
    count = shard_count(len(plan.published.slugs))
    members: dict[str, list[str]] = defaultdict(list)
    for slug in sorted(plan.published.slugs):
        members[shard_of(slug, count)].append(slug)
    digests = {
        name: fingerprint(count, [(s, plan.page_fingerprints[s]) for s in slugs])
        for name, slugs in members.items()
    }
    previous = {} if report.full else state.static_search
    stale = [
        name
        for name, digest in sorted(digests.items())
        if previous.get(name) != digest or not (root / name / "pagefind-entry.json").is_file()
    ]
    root.mkdir(parents=True, exist_ok=True)
    for path in root.iterdir():
        if path.is_dir() and path.name not in digests:
            shutil.rmtree(path)  # a shard of another shard count (links only)
    if stale:
        _run_pagefind(run, {name: members[name] for name in stale}, max(1, options.procs))
    tmp = root / (BUNDLES_FILE + ".tmp")
    tmp.write_text(json.dumps({"bundles": sorted(digests)}), "utf-8")
    os.replace(tmp, root / BUNDLES_FILE)
    state.static_search = digests
    report.static_search_shards = len(stale)
    report.static_search_seconds = time.perf_counter() - started


def _run_pagefind(run: Run, shards: dict[str, list[str]], parallel: int) -> None:
    """Index each shard's article pages into its bundle, ``parallel`` at a time."""
    binary = pagefind_executable()
    site = run.generation.site
    work = run.generation.path / ".pagefind-work"
    shutil.rmtree(work, ignore_errors=True)
    pending = list(shards.items())
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        while pending or running:
            while pending and len(running) < parallel:
                name, slugs = pending.pop(0)
                source = work / name
                (source / "articles").mkdir(parents=True)
                for slug in slugs:  # the pages themselves, through hard links
                    page = layout.article_path(slug)
                    os.link(site / page, source / page)
                target = site / PAGEFIND_DIR / name
                shutil.rmtree(target, ignore_errors=True)
                argv = [binary, "--site", str(source), "--output-path", str(target), "--silent"]
                running.append((name, subprocess.Popen(argv, stdout=subprocess.DEVNULL)))
            name, proc = running.pop(0)
            if proc.wait(PAGEFIND_TIMEOUT) != 0:
                raise RuntimeError(f"pagefind failed on bundle {name} (exit {proc.returncode})")
            _trim(site / PAGEFIND_DIR / name)
    finally:
        for _, proc in running:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def _trim(bundle: Path) -> None:
    for path in bundle.iterdir():
        if path.is_file() and path.name.startswith(_UNUSED):
            path.unlink()
