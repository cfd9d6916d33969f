"""Database engine for SQLite (embedded default) and PostgreSQL (psycopg)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine
from sqlmodel.sql.expression import SelectOfScalar

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

T = TypeVar("T", bound=SQLModel)


SQLITE_BEGIN = "sqlite_begin"  # execution option; "IMMEDIATE" starts the transaction holding the write lock


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A transaction that must not read a stale state (the next seq of a claim's event log, the schema's
            # revision) asks for IMMEDIATE: it waits for the write lock (up to the timeout) before reading
            # anything, so two processes never both read the same last row. DDL in it is transactional too.
            # Other transactions keep the driver's default: reads outside a transaction, BEGIN before the first
            # write, so a read never holds a snapshot that a later write of the same session would find stale.
            if conn.get_execution_options().get(SQLITE_BEGIN) == "IMMEDIATE":
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def begin_immediate(session: Session) -> None:
    """Start the session's transaction now, holding SQLite's write lock; call it before the session reads."""
    session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})


def lock_for_write(session: Session, rows: Any) -> None:
    """Begin the session's transaction holding a write lock on `rows` (a select of the rows), so
    read-then-write steps of two processes never interleave. PostgreSQL locks the rows (FOR UPDATE);
    SQLite takes the database's write lock at the transaction's start (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "sqlite":
        session.rollback()  # end the implicit read transaction so the write lock is taken first
        begin_immediate(session)
    else:
        session.execute(rows.with_for_update())


def insert_once(session: Session, row: T, existing: SelectOfScalar[T]) -> T:
    """Insert a row guarded by a unique key; if another attempt got there first, that row stands."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return session.exec(existing).one()
    session.refresh(row)
    return row


def now_utc() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """Times are stored in UTC; SQLite hands them back naive, PostgreSQL aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
