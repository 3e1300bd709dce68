"""The engines by name, and what an index directory says about the engine that wrote it.

``whoosh`` (the default: pure Python, always installed) and ``tantivy`` (the Rust
engine's official bindings, ``pip install support-portal[tantivy]``). Each index
directory holds ``engine.json`` (engine name and schema version) beside the engine's
files and ``synonyms.json``; a directory whose marker names another engine or schema
is not a valid index for a build, which then starts over.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from kb.search.core import ENGINE_FILE, SCHEMA_VERSION, SYNONYMS_FILE, Engine, SearchDoc

DEFAULT_ENGINE = "whoosh"
ENGINES = ("whoosh", "tantivy")
_MODULES = {"whoosh": "kb.search.whoosh_engine", "tantivy": "kb.search.tantivy_engine"}


class EngineUnavailable(ValueError):
    """An unknown engine name, or an engine whose package is not installed."""


def get_engine(name: str = DEFAULT_ENGINE) -> Engine:
    """The engine called ``name``; EngineUnavailable says what to do otherwise."""
    module_name = _MODULES.get(name)
    if module_name is None:
        raise EngineUnavailable(f"unknown search engine {name!r}: use one of {', '.join(ENGINES)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineUnavailable(
            f"the {name} search engine is not installed: "
            f"pip install 'support-portal[{name}]' ({exc})"
        ) from exc
    return cast(Engine, module.ENGINE)


def available_engines() -> list[str]:
    found = []
    for name in ENGINES:
        try:
            get_engine(name)
        except EngineUnavailable:
            continue
        found.append(name)
    return found


def engine_name(index_dir: Path) -> str | None:
    """The engine that wrote ``index_dir`` (None: no marker, or another schema)."""
    try:
        data = json.loads((index_dir / ENGINE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
        return None
    name = data.get("engine")
    return name if isinstance(name, str) and name in ENGINES else None


def engine_for(index_dir: Path) -> Engine:
    """The engine to open ``index_dir`` with (ValueError when there is none)."""
    name = engine_name(index_dir)
    if name is None:
        raise EngineUnavailable(f"{index_dir} is not an index of this version")
    return get_engine(name)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), "utf-8")
    os.replace(tmp, path)


def write_index(
    index_dir: Path,
    docs: Iterable[SearchDoc],
    synonyms: list[list[str]],
    *,
    procs: int = 1,
    engine: str = DEFAULT_ENGINE,
) -> int:
    """Create a new index in ``index_dir`` (which must be empty or missing)."""
    chosen = get_engine(engine)
    index_dir.mkdir(parents=True, exist_ok=True)
    count = chosen.write(index_dir, docs, procs=procs)
    _write_json(index_dir / SYNONYMS_FILE, synonyms)
    _write_json(index_dir / ENGINE_FILE, {"engine": chosen.name, "schema": SCHEMA_VERSION})
    return count


def update_index(
    index_dir: Path,
    changed: Iterable[SearchDoc],
    removed: Iterable[str],
    synonyms: list[list[str]],
) -> tuple[int, int]:
    """Replace changed documents and delete removed slugs in an existing index (of
    whichever engine wrote it)."""
    result = engine_for(index_dir).update(index_dir, changed, removed)
    _write_json(index_dir / SYNONYMS_FILE, synonyms)
    return result


def indexed_digests(index_dir: Path) -> dict[str, str]:
    """slug -> digest of every document in the index."""
    return engine_for(index_dir).digests(index_dir)


def is_valid_index(index_dir: Path, engine: str | None = None) -> bool:
    """True when ``index_dir`` holds an index of this schema that opens and can be
    read, written by ``engine`` when one is named."""
    name = engine_name(index_dir)
    if name is None or (engine is not None and name != engine):
        return False
    try:
        chosen = get_engine(name)
    except EngineUnavailable:
        return False
    return (index_dir / SYNONYMS_FILE).is_file() and chosen.readable(index_dir)
