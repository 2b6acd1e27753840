"""Database plumbing: SQLite pragmas and retried transactions."""

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError

from checkout.extensions import db

T = TypeVar("T")


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
