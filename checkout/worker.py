"""Entry point for huey_consumer: `huey_consumer checkout.worker.huey`."""

from checkout import tasks  # noqa: F401 -- registers the tasks with huey
from checkout.queue import huey

__all__ = ["huey"]
