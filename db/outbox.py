"""The transactional outbox and each subscriber's place in it.

`add` runs inside the transaction that writes what the event reports (a claim's event log row, a complaint's
row), so an event is in the outbox exactly when that happened. Events are about a *subject*: a claim (its id)
or a complaint (`complaint:<id>`). The relay reads, per subscriber, each subject's events after the last one
that subscriber took (`event_cursors`), oldest first. A subject's events go out one at a time, in `seq` order;
a failure holds that subject's later events back (others go on) and schedules a retry with backoff; after the
retry limit the event goes to the dead letters and the subject is parked for that subscriber until an operator
redrives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from db.engine import utc
from models.tables import EventCursor, EventDeadLetter, EventOutboxRow

OUTBOX = EventOutboxRow.__table__  # type: ignore[attr-defined]
CURSORS = EventCursor.__table__  # type: ignore[attr-defined]
DEAD = EventDeadLetter.__table__  # type: ignore[attr-defined]

ERROR_LENGTH = 500


@dataclass(frozen=True)
class Outgoing:
    """One event on its way to one subscriber."""

    subject: str
    seq: int
    event_id: str
    type: str
    body: str
    attempts: int
    """Failed attempts so far at this subject's next event, for this subscriber."""


@dataclass(frozen=True)
class Retry:
    """How a subscriber's failures are retried: the first wait, doubling up to a ceiling, for so many attempts."""

    max_attempts: int = 15
    first: timedelta = timedelta(seconds=1)
    ceiling: timedelta = timedelta(hours=1)

    def wait(self, attempts: int) -> timedelta:
        doublings = min(max(attempts - 1, 0), 30)  # enough to pass any ceiling, never past timedelta's range
        wait: timedelta = self.first * 2**doublings
        return min(wait, self.ceiling)


def add(conn: Connection, *, subject: str, seq: int, event_id: str, type_: str, body: str, at: datetime) -> None:
    """In the caller's transaction: the same one that appends the log row."""
    add_all(conn, [row(subject=subject, seq=seq, event_id=event_id, type_=type_, body=body, at=at)])


def row(*, subject: str, seq: int, event_id: str, type_: str, body: str, at: datetime) -> dict[str, object]:
    """An outbox row, for `add_all`."""
    return {"subject": subject, "seq": seq, "event_id": event_id, "type": type_, "body": body, "created_at": utc(at)}


def add_all(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Several rows in one statement, in their order (the relay sends a subject's events in `seq` order)."""
    if rows:
        conn.execute(insert(OUTBOX), rows)


def pending(engine: Engine, subscriber: str, now: datetime, limit: int = 500) -> list[Outgoing]:
    """The events the subscriber has still to take, of subjects neither parked nor waiting for a retry: grouped
    by subject, each subject's in `seq` order, the subjects with the oldest events first."""
    cursor = CURSORS.alias("c")
    query = (select(OUTBOX.c.subject, OUTBOX.c.seq, OUTBOX.c.event_id, OUTBOX.c.type, OUTBOX.c.body,
                    func.coalesce(cursor.c.attempts, 0).label("attempts"))
             .select_from(OUTBOX.outerjoin(cursor, and_(cursor.c.subject == OUTBOX.c.subject,
                                                        cursor.c.subscriber == subscriber)))
             .where(OUTBOX.c.seq > func.coalesce(cursor.c.delivered_seq, 0),
                    or_(cursor.c.parked.is_(None), cursor.c.parked.is_(False)),
                    or_(cursor.c.retry_at.is_(None), cursor.c.retry_at <= utc(now)))
             .order_by(OUTBOX.c.id).limit(limit))
    with engine.connect() as conn:
        rows = list(conn.execute(query).all())
    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        first_seen.setdefault(row.subject, i)
    rows.sort(key=lambda r: (first_seen[r.subject], r.seq))
    # The failed attempts so far belong to the subject's next event only; the ones behind it start afresh.
    return [Outgoing(r.subject, r.seq, r.event_id, r.type, r.body, r.attempts if i == 0 or rows[i - 1].subject
                     != r.subject else 0) for i, r in enumerate(rows)]


def _move_cursor(conn: Connection, subscriber: str, subject: str, behind: int, **values: object) -> None:
    """Set the cursor's values while it has delivered no further than `behind` (a cursor never moves back: a
    late writer changes nothing); the cursor is made at 0 first if the subject has none yet."""
    where = and_(CURSORS.c.subscriber == subscriber, CURSORS.c.subject == subject)
    if conn.execute(select(CURSORS.c.delivered_seq).where(where)).first() is None:
        # Only this relay writes this subscriber's cursors (it holds the subscriber's lease), one task per subject.
        conn.execute(insert(CURSORS).values(subscriber=subscriber, subject=subject, delivered_seq=0, attempts=0,
                                            parked=False))
    conn.execute(update(CURSORS).where(where, CURSORS.c.delivered_seq <= behind).values(**values))


def delivered(engine: Engine, subscriber: str, event: Outgoing) -> None:
    with engine.begin() as conn:
        _move_cursor(conn, subscriber, event.subject, event.seq - 1, delivered_seq=event.seq, attempts=0,
                     retry_at=None, last_error=None)


def failed(engine: Engine, subscriber: str, event: Outgoing, error: str, now: datetime, retry: Retry) -> bool:
    """Count a failed attempt: schedule the next, or, at the limit, dead-letter the event and park the subject
    for this subscriber. True when it went to the dead letters."""
    attempts = event.attempts + 1
    error = error[:ERROR_LENGTH]
    with engine.begin() as conn:
        if attempts < retry.max_attempts:
            _move_cursor(conn, subscriber, event.subject, event.seq - 1, attempts=attempts,
                         retry_at=utc(now + retry.wait(attempts)), last_error=error)
            return False
        conn.execute(insert(DEAD).values(subscriber=subscriber, subject=event.subject, seq=event.seq,
                                         event_id=event.event_id, type=event.type, attempts=attempts,
                                         last_error=error, dead_at=utc(now)))
        _move_cursor(conn, subscriber, event.subject, event.seq - 1, attempts=attempts, retry_at=None,
                     last_error=error, parked=True)
        return True


def dead_letters(engine: Engine, *, include_redriven: bool = False) -> list[EventDeadLetter]:
    query = select(DEAD).order_by(DEAD.c.id)
    if not include_redriven:
        query = query.where(DEAD.c.redriven_at.is_(None))
    with engine.connect() as conn:
        return [EventDeadLetter.model_validate(dict(row._mapping)) for row in conn.execute(query)]


def redrive(engine: Engine, now: datetime, *, subscriber: str | None = None, subject: str | None = None) -> int:
    """Send the dead letters again (all, or one subscriber's, or one subject's): each parked subject resumes at
    its dead event, so order holds. How many dead letters were redriven."""
    conditions = [DEAD.c.redriven_at.is_(None)]
    if subscriber:
        conditions.append(DEAD.c.subscriber == subscriber)
    if subject:
        conditions.append(DEAD.c.subject == subject)
    with engine.begin() as conn:
        letters = conn.execute(select(DEAD.c.id, DEAD.c.subscriber, DEAD.c.subject).where(*conditions)).all()
        for letter in letters:
            conn.execute(update(CURSORS).where(CURSORS.c.subscriber == letter.subscriber,
                                               CURSORS.c.subject == letter.subject)
                         .values(parked=False, attempts=0, retry_at=None))
            conn.execute(update(DEAD).where(DEAD.c.id == letter.id).values(redriven_at=utc(now)))
    return len(letters)


def prune(engine: Engine, subscribers: Iterable[str], before: datetime) -> int:
    """Delete outbox events older than `before` that every subscriber has taken (the claim event log and the
    complaints keep what happened); nothing while no subscriber is configured. The number deleted."""
    names = list(subscribers)
    if not names:  # nobody configured here: whether others still need the events is not known
        return 0
    condition = OUTBOX.c.created_at < utc(before)
    for name in names:
        taken = (select(CURSORS.c.subject).where(CURSORS.c.subscriber == name, CURSORS.c.subject == OUTBOX.c.subject,
                                                   CURSORS.c.delivered_seq >= OUTBOX.c.seq))
        condition = and_(condition, taken.exists())
    with engine.begin() as conn:
        return int(conn.execute(delete(OUTBOX).where(condition)).rowcount)


def backlog(engine: Engine, subscriber: str) -> int:
    """Events the subscriber has still to take (for the operators' figures)."""
    cursor = CURSORS.alias("c")
    query = (select(func.count()).select_from(OUTBOX.outerjoin(
        cursor, and_(cursor.c.subject == OUTBOX.c.subject, cursor.c.subscriber == subscriber)))
        .where(OUTBOX.c.seq > func.coalesce(cursor.c.delivered_seq, 0)))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
