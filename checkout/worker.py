"""Entry point for huey_consumer: `huey_consumer checkout.worker.huey`.

It builds the app once, from the environment, and gives it to the tasks.
"""

from checkout import create_app_for_process, metrics, tasks
from checkout.queue import huey

tasks.use_app(create_app_for_process())
metrics.forget_ended_processes()

__all__ = ["huey"]
