"""Engine and sessions: SQLite by default (WAL, busy timeout, immediate transactions),
PostgreSQL with ``postgresql+psycopg://`` unchanged.

Faults heal without a restart. A connection that hit a read-only, unopenable or
unreachable database is thrown away (with every other pooled connection), so the next
request connects afresh: a SQLite file opened while its directory was read-only stays
read-only for the life of that connection, and a PostgreSQL connection keeps the
``default_transaction_read_only`` it started with. Migrations that could not run at
start (database unreachable or read-only) are retried before the next use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger("portal.db")

# below this much free space next to a SQLite database, /healthz calls the disk full:
# a write may then fail at any moment (uploads and logs share the disk)
MIN_FREE_BYTES = 1024 * 1024
# SQLite primary result codes (``exc.sqlite_errorcode & 0xFF``) that mean this
# connection cannot write until it is reopened
_SQLITE_REOPEN = {8: "read-only", 10: "disk I/O error", 14: "cannot open the database file"}
_PG_READ_ONLY = "25006"  # read_only_sql_transaction (default_transaction_read_only, standby)
_PG_ADVISORY_LOCK = 7_246_661  # serialises concurrent migrations of several workers


def _sqlite_path(url: str) -> str:
    path = url.split("///", 1)[1] if "///" in url else ""
    return path.split("?", 1)[0] if path and path != ":memory:" else ""


def _writable(path: str) -> bool:
    """Whether SQLite may open ``path`` for writing (a read-only mount refuses root too)."""
    file = Path(path)
    if file.exists():
        return os.access(file, os.W_OK) and os.access(file.parent, os.W_OK)
    return os.access(file.parent, os.W_OK) or not file.parent.exists()


def _fault(orig: BaseException | None) -> str | None:
    """What is wrong when ``orig`` means the connection must be reopened, else None."""
    if orig is None:
        return None
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_REOPEN.get(code & 0xFF)
    if getattr(orig, "sqlstate", None) == _PG_READ_ONLY:
        return "read-only"
    return None


def _reconnect_on_fault(context: ExceptionContext) -> BaseException | None:
    """handle_error hook: treat read-only and unopenable databases like a lost
    connection (the pool is invalidated, the next checkout reconnects) and report a
    PostgreSQL read-only transaction as the OperationalError the app answers with 503."""
    if _fault(context.original_exception) is None:
        return None
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = True
    engine = context.engine
    if engine is not None and engine.dialect.name == "sqlite":
        # SQLite shares one file handle and WAL index among a process's connections
        # to a file: a connection opened now inherits the read-only one while any old
        # connection is open. So close everything now: the idle pooled connections, and
        # the failed cursor (its unfinalised statement would keep the invalidated
        # connection open as a zombie for as long as the traceback lives)
        cursor = getattr(context.execution_context, "cursor", None)
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()
        engine.pool.dispose()
    if isinstance(context.sqlalchemy_exception, OperationalError):
        return None
    return OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=True,
    )


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "do_connect")
        def _make_directory(*_args: Any) -> None:
            # on every connect, not once: the volume may be mounted after the start
            if path:
                with contextlib.suppress(OSError):  # the connect then names the fault
                    Path(path).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
            # SQLite opens a file it may not write read-only, silently, for good
            record.info["read_only"] = bool(path) and not _writable(path)
            # pysqlite's own transaction handling is off; BEGIN IMMEDIATE is ours
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # take the write lock up front: no deadlock-prone lock upgrades mid-transaction
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = create_engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _note_read_only(dbapi_connection: Any, record: Any) -> None:
            # a session keeps the default_transaction_read_only it started with;
            # PostgreSQL 14+ reports it (and hot standby) without a query
            status = getattr(getattr(dbapi_connection, "info", None), "parameter_status", None)
            record.info["read_only"] = status is not None and "on" in (
                status("default_transaction_read_only"),
                status("in_hot_standby"),
            )

    @event.listens_for(engine, "checkin")
    def _never_pool_read_only(_dbapi_connection: Any, record: Any) -> None:
        # a connection opened while the database was read-only is closed after use
        # instead of pooled, so the first request after the database became writable
        # connects afresh (and on SQLite no idle connection pins the read-only handle)
        if record.info.get("read_only"):
            record.invalidate()

    event.listen(engine, "handle_error", _reconnect_on_fault)
    return engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # a Database dropped without dispose() still closes its pooled connections (a
        # PostgreSQL connection collected while open is a leak psycopg warns about)
        weakref.finalize(self, self.engine.dispose)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # set when migrations could not run (database down at start): retried before
        # the next session, so the portal heals without a restart
        self.upgrade_pending = False
        self._upgrade_lock = threading.Lock()
        self._failed: tuple[float, BaseException] | None = None  # last retry: when, why

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        if self.upgrade_pending:
            self.retry_upgrade()
        with self.sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Apply every Alembic migration (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_ADVISORY_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        self.upgrade_pending = False

    def upgrade_or_defer(self) -> bool:
        """Apply the migrations now, or, when the database is unreachable or read-only,
        log it and retry before the next use. True when they ran."""
        try:
            self.upgrade()
        except OperationalError as exc:
            # only faults of the database itself; a failing migration stays fatal
            unavailable = (
                exc.connection_invalidated
                or exc.statement is None  # could not connect at all
                or "locked" in str(exc.orig).lower()
            )
            if not unavailable:
                raise
            self.upgrade_pending = True
            log.error("database unavailable at start, will retry on the next request: %s", exc)
            return False
        return True

    def retry_upgrade(self) -> None:
        """The deferred migrations, once (other threads wait); raises OperationalError
        while the database is still down. Requests that waited while another one tried
        and failed fail at once, instead of each queueing for its own attempt."""
        arrived = time.monotonic()
        with self._upgrade_lock:
            if not self.upgrade_pending:
                return
            if self._failed is not None and self._failed[0] >= arrived:
                raise OperationalError(
                    "(migrations deferred: the database is still unavailable)",
                    None,
                    self._failed[1],
                )
            try:
                self.upgrade()
            except OperationalError as exc:
                self._failed = (time.monotonic(), exc.orig if exc.orig is not None else exc)
                raise
            self._failed = None
            log.warning("database available again: migrations applied")

    def free_bytes(self) -> int | None:
        """Free space for a SQLite database's directory (None for a server database)."""
        path = _sqlite_path(self.url)
        if not path:
            return None
        try:
            stat = os.statvfs(Path(path).parent)
        except OSError:
            return None
        return stat.f_bavail * stat.f_frsize

    def health(self) -> str:
        """``ok`` when a write would succeed now, else what is wrong.

        The probe takes the write lock (``BEGIN IMMEDIATE`` on SQLite) and runs an
        UPDATE that matches no row, then rolls back: it passes the same permission and
        read-only checks as a real write (SQLite refuses it on a read-only file or
        connection, PostgreSQL in a read-only transaction) but writes nothing, so it can
        be polled every second. A full disk does not fail a write that writes nothing,
        so for SQLite the free space beside the database is checked as well; a
        PostgreSQL server watches its own disk."""
        try:
            if self.upgrade_pending:
                self.retry_upgrade()
            free = self.free_bytes()
            if free is not None and free < MIN_FREE_BYTES:
                return "disk full"
            with self.engine.connect() as connection, connection.begin() as transaction:
                connection.exec_driver_sql(
                    "UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"
                )
                transaction.rollback()
        except OperationalError as exc:
            fault = _fault(exc.orig)
            if fault is not None:
                return fault
            message = str(exc.orig).lower()
            if "full" in message:
                return "disk full"
            if "locked" in message:
                return "locked"
            if "no such table" in message or "does not exist" in message:
                return "not migrated"
            return "unreachable"
        return "ok"

    def dispose(self) -> None:
        self.engine.dispose()
