"""Real databases for the tests: a SQLite file, a PostgreSQL schema of its own
(127.0.0.1:5432, trust auth, database ``test``), Redis on 127.0.0.1:6379.

Outside CI a missing PostgreSQL or Redis skips the test; in CI it fails it."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ColumnElement, create_engine, func, select, text

from portal.db.engine import Database

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
KINDS = ("sqlite", "postgresql")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own, dropped afterwards."""
    schema = "t_" + secrets.token_hex(6)
    try:
        engine = create_engine(PG_BASE)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@contextmanager
def new_database_url(kind: str, directory: Path) -> Iterator[str]:
    """An empty database of ``kind`` ("sqlite": a file in ``directory``, or
    "postgresql": a schema of its own), gone afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory}/portal.db"
    elif kind == "postgresql":
        with postgres_schema_url() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def redis_url_or_skip() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            pass
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379: {exc}")
    return REDIS


def count(db: Database, model: type[Any], *where: ColumnElement[bool]) -> int:
    """Rows of ``model`` matching every condition in ``where``."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def migrate(url: str) -> None:
    """Create the tables of ``url`` and leave no connection open (for SQLite: no WAL
    files left)."""
    db = Database(url)
    db.upgrade()
    db.dispose()
