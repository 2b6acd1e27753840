"""Readiness for load balancers (`GET /readyz`): whether this process reaches the database
and the queue, each within a deadline. Liveness (`/healthz`) asks nothing of either.

Each check runs on a small pool of threads, so a database or Redis that never answers
costs the probe its deadline and no more; while one hangs, later probes find the pool
busy and report it down at their own deadline, and no more threads are started.
"""

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as NoAnswer

from sqlalchemy import text

from checkout import queue
from checkout.extensions import db

log = logging.getLogger(__name__)

OK = "ok"
DOWN = "down"
NOT_ANSWERING = "timeout"

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None
# What each check said last, so an outage is logged when it starts and ends, not per probe.
_last: dict[str, str] = {}


def _threads() -> ThreadPoolExecutor:
    """This process's pool (a forked gunicorn worker makes its own)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(4, thread_name_prefix="kassa-readyz"))
        return _pool[1]


def _select_one(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check(timeout: float) -> dict[str, str]:
    """{"database": …, "queue": …}: "ok", "down" (it refused or failed) or "timeout" (no
    answer within `timeout` seconds); both are asked at once."""
    pool = _threads()
    asked = {
        "database": pool.submit(_select_one, db.engine),
        "queue": pool.submit(queue.check_reachable, queue.huey),
    }
    deadline = time.monotonic() + timeout
    checks = {}
    for name, answer in asked.items():
        try:
            answer.result(timeout=max(deadline - time.monotonic(), 0))
        except NoAnswer:
            state, reason = NOT_ANSWERING, f"no answer within {timeout:g} s"
        except Exception as error:
            state, reason = DOWN, str(getattr(error, "orig", None) or error)
        else:
            state, reason = OK, ""
        checks[name] = state
        _report(name, state, reason)
    return checks


def _report(name: str, state: str, reason: str) -> None:
    """Log a check that starts failing (with why) and one that answers again."""
    before = _last.get(name, OK)
    _last[name] = state
    if state != OK and before == OK:
        log.warning("Not ready: the %s is %s (%s)", name, state, reason)
    elif state == OK and before != OK:
        log.warning("Ready again: the %s answers", name)
