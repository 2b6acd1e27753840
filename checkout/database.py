"""Database plumbing: SQLite pragmas, retried transactions, work asked for after commit,
batched reads and the driver-cursor fast path."""

import sqlite3
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import event, select, tuple_, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import Executable

from checkout.extensions import db

T = TypeVar("T")
BATCH = 500
_AFTER_COMMIT = "kassa_after_commit"


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


def lock_row(model: type[T], row_id: str) -> T | None:
    """The row, read after taking it (PostgreSQL) or the write lock (SQLite), so that
    concurrent customers of a limited row (a link's uses, a code's redemptions) are counted
    one after the other. The model has a `version` column; bumping it is the lock."""
    db.session.execute(
        update(model)
        .where(model.id == row_id)
        .values(version=model.version + 1)
        .execution_options(synchronize_session=False)
    )
    return db.session.scalar(
        select(model).where(model.id == row_id).execution_options(populate_existing=True)
    )


def after_commit(task: str, *args: str) -> None:
    """Ask for a background task once the current transaction commits; forgotten on rollback.

    Services name the task (a function of checkout.tasks) instead of importing it: the
    hand-off to the queue is tasks.py's, so services stay below the tasks that call them.
    """
    db.session.info.setdefault(_AFTER_COMMIT, []).append((task, args))


def take_after_commit(session: Session) -> list[tuple[str, tuple[str, ...]]]:
    """The tasks asked for in a session's transaction, removed from it."""
    return session.info.pop(_AFTER_COMMIT, None) or []


def newest_first(query, model, after=None):
    """A query for rows newest first (by created_at, then id), those older than `after` (a
    row of the same list) when given: the API's cursor pages."""
    if after is not None:
        query = query.where(
            (model.created_at < after.created_at)
            | ((model.created_at == after.created_at) & (model.id < after.id))
        )
    return query.order_by(model.created_at.desc(), model.id.desc())


def ids_in_batches(where, moment, key) -> Iterator[str]:
    """The key of every row matching where, oldest first, a batch per query.

    Paged by (moment, key), so rows that still match after being handled are not read
    twice; each batch's transaction ends before its ids are handed out.
    """
    last = None
    while True:
        query = select(moment, key).where(where).order_by(moment, key).limit(BATCH)
        if last is not None:
            query = query.where(tuple_(moment, key) > last)
        rows = db.session.execute(query).all()
        db.session.commit()
        for _, row_id in rows:
            yield row_id
        if len(rows) < BATCH:
            return
        last = tuple(rows[-1])


def batches(query, moment, key) -> Iterator[list]:
    """The rows a query selects, newest first by (moment, key), a list per query.

    Keyset paging: each batch is its own short query, and its transaction ends when the
    next batch is asked for (after the caller used this one, so its rows were still
    loaded): a long read such as a CSV export holds neither a cursor nor more than a batch.
    """
    last = None
    ordered = query.order_by(None).order_by(moment.desc(), key.desc()).limit(BATCH)
    while True:
        page = ordered if last is None else ordered.where(tuple_(moment, key) < last)
        rows = db.session.scalars(page).unique().all()
        if rows:
            yield rows
        db.session.commit()
        if len(rows) < BATCH:
            return
        last = (getattr(rows[-1], moment.key), getattr(rows[-1], key.key))


# The fast path: a prebuilt statement on the driver's own cursor. For the checkout page's
# version read and the webhook's insert, SQLAlchemy's statement handling and session
# would cost more than the statement itself.


@lru_cache
def _compiled(statement: Executable, dialect: Dialect) -> tuple[str, list, bool]:
    """The statement's SQL for this dialect, its parameters in order with their type's
    converter, and whether the driver takes them by position."""
    compiled = statement.compile(dialect=dialect)
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    params = [
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    ]
    return str(compiled), params, compiled.positional


def _on_driver_cursor(statement: Executable, values: dict, use: Callable):
    sql, params, positional = _compiled(statement, db.engine.dialect)
    converted = [
        (name, convert(values[name]) if convert else values[name]) for name, convert in params
    ]
    driver = db.engine.dialect.loaded_dbapi
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(
                sql, tuple(value for _, value in converted) if positional else dict(converted)
            )
            return use(connection, cursor)
        finally:
            connection.close()
    except driver.OperationalError as error:
        # As SQLAlchemy's own statements raise it: create_app answers an outage with 503.
        raise DBAPIError.instance(sql, None, error, driver.Error) from error


def fetch_one_raw(statement: Executable, values: dict) -> tuple | None:
    """The first row of a prebuilt query, as the driver returns it (SQLite: times as text)."""
    return _on_driver_cursor(statement, values, lambda _, cursor: cursor.fetchone())


def execute_raw(statement: Executable, values: dict) -> int:
    """Run and commit a prebuilt statement in its own transaction; returns the row count."""

    def commit(connection, cursor) -> int:
        count = cursor.rowcount
        connection.commit()
        return count

    return _on_driver_cursor(statement, values, commit)
