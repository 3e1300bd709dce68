"""Where a build lands: a new generation ``OUT/gen-<n>`` that starts as a hard-linked
copy of the previous one, swapped in with one atomic rename of ``OUT/current``, old
generations pruned (see ``kb.layout``)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb import layout

KEEP_GENERATIONS = 3


@dataclass
class Generation:
    path: Path
    previous: Path | None  # the generation it started from
    existing: set[str]  # files of site/ already there (hard links into the previous one)

    @property
    def site(self) -> Path:
        return self.path / layout.SITE

    @property
    def index(self) -> Path:
        return self.path / layout.INDEX


@contextlib.contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_generation(out_dir: Path, previous: Path | None) -> Generation:
    """A new generation directory; an unchanged page then costs one ``link()``."""
    path = out_dir / f"gen-{time.time_ns():020d}"
    path.mkdir(parents=True)
    generation = Generation(path, previous, set())
    if previous is not None:
        generation.existing = _hardlink_tree(previous / layout.SITE, generation.site)
        _hardlink_tree(previous / layout.INDEX, generation.index)
    generation.site.mkdir(parents=True, exist_ok=True)
    return generation


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
            # lock files (Whoosh's WRITELOCK, tantivy's .tantivy-*.lock) are per index
            if name.endswith((".tmp", "WRITELOCK", ".lock")):
                continue
            os.link(os.path.join(dirpath, name), os.path.join(target_dir, name))
            linked.add(prefix + name)
    return linked


def swap(out_dir: Path, generation: Path) -> None:
    """Point OUT/current at the generation with one atomic rename."""
    link = out_dir / layout.CURRENT
    tmp = out_dir / f".{layout.CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(generation.name, tmp)
    os.replace(tmp, link)


def prune(out_dir: Path, keep: Path) -> None:
    """Remove old generations, keeping the newest KEEP_GENERATIONS (a server may still
    be reading a recent one) and any younger than a minute."""
    generations = sorted(
        (p for p in out_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name, reverse=True
    )
    now = time.time()
    for old in generations[KEEP_GENERATIONS:]:
        if old != keep and now - old.stat().st_mtime > 60:
            shutil.rmtree(old, ignore_errors=True)
