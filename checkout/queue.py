"""The Huey instances: Redis when REDIS_URL is set, else a SQLite file. Imports no app code.

Two queues. `huey` carries notification deliveries and the periodic tasks; `stripe_huey`
carries Stripe events. `huey_consumer checkout.worker.huey` runs both: the consumer of
`huey` starts STRIPE_EVENT_THREADS threads of its own for `stripe_huey`, so provider
endpoints slow to answer can hold every delivery thread but never delay a payment.

When the queue cannot be reached (Redis down), `outage` says so once, then once a minute
until it answers again, instead of a traceback per failed read.
"""

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import redis
from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer

from checkout import logs
from checkout.config import create_private_file, huey_settings, log_format, stripe_event_threads

log = logging.getLogger(__name__)

OUTAGE_LOG_SECONDS = 60

# What huey's consumer logs, with a traceback, each time a thread fails to reach the queue.
HUEY_QUEUE_ERRORS = {
    "Error reading from queue": "reading tasks",
    "Error reading schedule.": "reading the schedule",
    "Error enqueueing %s.": "queueing a scheduled task",
    "Error enqueueing periodic task %s.": "queueing a periodic task",
}
# What a queue that cannot be reached raises; anything else keeps its traceback.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, sqlite3.OperationalError, OSError)


class Outage:
    """The queue is unreachable: logged when it starts, then once a minute while it lasts,
    and when it ends; one per process, shared by its threads."""

    def __init__(self, logger: logging.Logger, every: float = OUTAGE_LOG_SECONDS, clock=None):
        self._log = logger
        self._every = every
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._since: float | None = None
        self._said = 0.0
        self._failures = 0

    def failed(self, what: str, error: BaseException | None) -> None:
        """One queue operation failed (what: "queueing deliver_notification('msg_…',)")."""
        reason = f"{type(error).__name__}: {error}" if error is not None else "no reason given"
        with self._lock:
            now = self._clock()
            self._failures += 1
            if self._since is None:
                self._since = self._said = now
                self._log.error(
                    "Queue unreachable: %s failed (%s). Work waits in the database; the "
                    "sweep queues it once the queue is back. Logged once a minute until then.",
                    what,
                    reason,
                )
            elif now - self._said >= self._every:
                self._said = now
                self._log.error(
                    "Queue still unreachable after %d s: %d operations failed, the last %s (%s)",
                    now - self._since,
                    self._failures,
                    what,
                    reason,
                )

    def reached(self) -> None:
        """A queue operation succeeded: log the end of an outage, if one was logged."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            self._log.warning(
                "Queue reachable again after %d s; %d operations failed meanwhile",
                self._clock() - self._since,
                self._failures,
            )
            self._since = None
            self._failures = 0


outage = Outage(log)


class QuietQueueErrors(logging.Filter):
    """Hand the consumer's queue errors to the outage log instead of a traceback each."""

    def filter(self, record: logging.LogRecord) -> bool:
        doing = HUEY_QUEUE_ERRORS.get(record.msg)
        error = record.exc_info[1] if record.exc_info else None
        if doing is None or not isinstance(error, UNREACHABLE):
            return True
        task = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if task is not None:
            doing += f" {getattr(task, 'name', task)}{getattr(task, 'args', '')}"
        outage.failed(doing, error)
        return False


class _Watched:
    """Tells the outage log when the queue answers again; the consumer runs a companion."""

    companion = None  # a second queue whose consumer runs in this one's process

    def enqueue(self, task):
        result = super().enqueue(task)
        outage.reached()
        return result

    def dequeue(self):
        task = super().dequeue()
        outage.reached()
        return task

    def read_schedule(self, timestamp=None):
        tasks = super().read_schedule(timestamp)
        outage.reached()
        return tasks

    def create_consumer(self, **options):
        """huey_consumer's consumer: with the companion queue's threads, and quiet outages."""
        quiet = QuietQueueErrors()
        for name in ("huey.consumer.Worker", "huey.consumer.Scheduler"):
            logging.getLogger(name).addFilter(quiet)
        # huey_consumer has just given its logger a handler: its lines in LOG_FORMAT too.
        logs.use_format(logging.getLogger("huey"), log_format())
        if self.companion is None:
            return super().create_consumer(**options)
        companion = _CompanionConsumer(
            self.companion,
            workers=stripe_event_threads(),
            periodic=False,
            worker_type="thread",
            check_worker_health=False,
            **{
                name: options[name]
                for name in ("initial_delay", "backoff", "max_delay")
                if name in options
            },
        )
        return PairedConsumer(self, companion, **options)


class _CompanionConsumer(Consumer):
    """Threads for a second queue; the main consumer's signal handlers stop it."""

    def _set_signal_handlers(self):
        pass

    def _create_process(self, process, name):
        return super()._create_process(process, f"StripeEvents-{name}")


class PairedConsumer(Consumer):
    """A consumer that starts, watches and stops a companion consumer with its own."""

    def __init__(self, huey, companion: Consumer, **options):
        self.companion = companion
        super().__init__(huey, **options)

    def start(self):
        self.companion.start()
        super().start()

    def stop(self, graceful=False):
        self.companion.stop_flag.set()
        self.companion.stop(graceful=graceful)
        super().stop(graceful=graceful)

    def check_worker_health(self):
        self.companion.check_worker_health()
        return super().check_worker_health()


class RedisQueue(_Watched, RedisHuey):
    """Huey on Redis."""


class SqliteQueue(_Watched, SqliteHuey):
    """Huey on a SQLite file."""


def make_huey(settings: dict, name: str = "kassa"):
    """Build the queue the settings describe.

    Task results are not stored: nothing reads them (the database holds every outcome),
    and storing each one was a write per task.
    """
    if settings["redis_url"]:
        return RedisQueue(name, url=settings["redis_url"], results=False)
    create_private_file(Path(settings["sqlite_path"]))
    # No fsync per enqueue: the outbox in the main database is the durable record, and the
    # sweep re-enqueues anything a crash takes out of this queue. Both queues share the file.
    return SqliteQueue(name, filename=settings["sqlite_path"], fsync=False, results=False)


def check_reachable(queue) -> None:
    """Raise unless the queue answers: Redis a PING; the SQLite file is there, readable and
    writable, and answers a read."""
    if isinstance(queue, RedisQueue):
        queue.storage.conn.ping()
        return
    path = queue.storage.filename
    if not os.access(path, os.R_OK | os.W_OK):
        raise OSError(f"{path} is missing, or not readable and writable")
    queue.storage.queue_size()


huey = make_huey(huey_settings())
stripe_huey = make_huey(huey_settings(), "kassa-stripe-events")
huey.companion = stripe_huey
