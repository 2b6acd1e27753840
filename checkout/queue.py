"""The Huey instance: Redis when REDIS_URL is set, else a SQLite file. Imports no app code."""

from pathlib import Path

from huey import RedisHuey, SqliteHuey

from checkout.config import create_private_file, huey_settings


def make_huey(settings: dict):
    """Build the queue the settings describe.

    Task results are not stored: nothing reads them (the database holds every outcome),
    and storing each one was a write per task.
    """
    if settings["redis_url"]:
        return RedisHuey("kassa", url=settings["redis_url"], results=False)
    create_private_file(Path(settings["sqlite_path"]))
    # No fsync per enqueue: the outbox in the main database is the durable record, and the
    # sweep re-enqueues anything a crash takes out of this queue.
    return SqliteHuey("kassa", filename=settings["sqlite_path"], fsync=False, results=False)


huey = make_huey(huey_settings())
