"""Database plumbing: SQLite pragmas and retried transactions."""

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event, select, text, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError

from checkout.extensions import db

T = TypeVar("T")
BATCH = 500


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers run beside one writer; foreign keys are enforced as on PostgreSQL."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def in_transaction(work: Callable[[], T], attempts: int = 8) -> T:
    """Run work() and commit; start again when a concurrent writer changed the same row."""
    for attempt in range(attempts):
        try:
            result = work()
            db.session.commit()
            return result
        except StaleDataError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def ping() -> None:
    """Raise unless the database answers a trivial query."""
    db.session.execute(text("SELECT 1"))


def each_in_batches(where, moment, key, enqueue: Callable[[str], object]) -> int:
    """Call enqueue(id) for every row matching where, oldest first, a batch per query.

    Paged by (moment, key), so rows that still match after being queued are not read twice.
    """
    queued, last = 0, None
    while True:
        query = select(moment, key).where(where).order_by(moment, key).limit(BATCH)
        if last is not None:
            query = query.where(tuple_(moment, key) > last)
        rows = db.session.execute(query).all()
        db.session.commit()
        for _, row_id in rows:
            enqueue(row_id)
        queued += len(rows)
        if len(rows) < BATCH:
            return queued
        last = tuple(rows[-1])
