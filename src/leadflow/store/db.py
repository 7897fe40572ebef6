"""Engine set-up for the embedded default (SQLite, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _sqlite_no_implicit_begin(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI connection
    dbapi_conn.isolation_level = None  # the driver's own BEGIN is off; the engine's "begin" event says which


def _sqlite_begin_immediate(conn) -> None:  # noqa: ANN001 - SQLAlchemy connection
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False, immediate: bool = False) -> Engine:
    """Create an engine; for SQLite files the parent folder is created and WAL switched on.

    ``immediate`` (SQLite): transactions start with ``BEGIN IMMEDIATE``, taking the write lock up front (waiting
    for it, up to the busy timeout), for engines of processes that write concurrently: a deferred transaction
    that read first fails at once ("database is locked") when another process committed in between."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _sqlite_pragmas)
        if immediate:
            event.listen(engine, "connect", _sqlite_no_implicit_begin)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False, immediate: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, immediate=immediate)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error (nothing half-stored)."""
        with self.sessions() as s, s.begin():
            yield s

    def sqlite_path(self) -> str | None:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return os.path.abspath(parsed.database)
        return None

    def dispose(self) -> None:
        self.engine.dispose()
