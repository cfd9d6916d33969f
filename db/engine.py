"""Database engine for SQLite (embedded default) and PostgreSQL (psycopg)."""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import Session, SQLModel, create_engine
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.exceptions import ApplicationError

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from models.contract import ErrorType

T = TypeVar("T", bound=SQLModel)
P = ParamSpec("P")
R = TypeVar("R")


SQLITE_BEGIN = "sqlite_begin"  # execution option; "IMMEDIATE" starts the transaction holding the write lock
SQLITE_BUSY_SECONDS = 30
"""How long a SQLite connection waits for another's lock before it gives up."""


def _write_ahead_log(cur: sqlite3.Cursor) -> None:
    """Put the database in WAL mode. Switching a new file takes it for a moment alone, and SQLite answers "database is
    locked" at once, without waiting out its busy timeout, to every other connection switching it then: several
    processes upgrading a fresh file together met it. Asked again, with a growing pause, for as long as the busy
    timeout; once one has switched the file the others find it switched."""
    deadline, pause = time.monotonic() + SQLITE_BUSY_SECONDS, 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause)  # another connection holds the file while it switches it
            pause = min(pause * 2, 0.25)


def make_engine(url: str, *, pre_ping: bool = True, **kwargs: Any) -> Engine:
    """An engine that never puts statement parameters (phones, names, letters) into an error's message, so
    neither a log line nor an activity failure carries them.

    `pre_ping` (PostgreSQL): test each pooled connection with a round trip before handing it out. A worker does
    without (`worker.py`): a connection the server closed fails its first statement, the pool then drops every
    connection it holds, and the activity's retry takes a new one. The ping was one statement in six on the fast
    path, 3.5 % of a worker's CPU. Whatever has no retry (the API, the command line) keeps it."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            _write_ahead_log(cur)
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
    engine = create_engine(url, pool_pre_ping=pre_ping, pool_size=10, max_overflow=10, **kwargs)
    # A batch of rows (a claim's events, their outbox rows, its documents) goes as one INSERT of many VALUES, as
    # with RETURNING, not through the driver's executemany (psycopg runs that in pipeline mode, a statement per
    # row: 4 % of a fast-path worker's CPU).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


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


_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
UNIQUE_VIOLATION = "23505"


def _is_uniqueness_race(err: IntegrityError) -> bool:
    """Two attempts inserting the same unique key: a retry finds the row the other one wrote."""
    return (getattr(err.orig, "sqlstate", None) == UNIQUE_VIOLATION
            or str(err.orig).startswith("UNIQUE constraint failed"))


def _unstorable_columns(table: str | None, params: Any) -> list[str]:
    """The columns whose values cannot be stored: too long for the column, NUL or unpaired surrogates.
    Only the column names leave this function, never the values (they may be personal data)."""
    tables = SQLModel.metadata.tables
    columns = tables[table].c if table is not None and table in tables else None
    rows = params if isinstance(params, list | tuple) else [params]
    found: list[str] = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        for key, value in row.items():
            if not isinstance(value, str):
                continue
            name = re.sub(r"_\d+$", "", key) if columns is not None and key not in columns else key
            length = getattr(columns[name].type, "length", None) if columns is not None and name in columns else None
            unencodable = any("\ud800" <= c <= "\udfff" for c in value)
            if ("\x00" in value or unencodable or (length and len(value) > length)) and name not in found:
                found.append(name)
    return found


def _refusal(err: StatementError) -> ApplicationError:
    match = _TABLE.match(err.statement or "")
    table = match.group(1) if match else None
    columns = _unstorable_columns(table, err.params)
    where = ", ".join(f"{table}.{c}" for c in columns) if columns else (table or "the database")
    reason = type(err.orig).__name__ if err.orig is not None else type(err).__name__
    return ApplicationError(f"data that cannot be stored in {where} ({reason})", type=ErrorType.INVALID_DATA,
                            non_retryable=True)


def refuses_bad_data(fn: Callable[P, R]) -> Callable[P, R]:
    """For every database activity: a value the database refuses (too long, NUL byte, a broken constraint)
    fails at once with a typed, non-retryable error naming the table and column, instead of being retried
    forever. The message never carries the values. Connection errors and uniqueness races stay retryable."""

    @functools.wraps(fn)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except IntegrityError as err:
            if _is_uniqueness_race(err):
                raise
            raise _refusal(err) from None
        except DataError as err:
            raise _refusal(err) from None
        except StatementError as err:
            if isinstance(err.orig, UnicodeError | ValueError):
                raise _refusal(err) from None
            raise

    return guarded
