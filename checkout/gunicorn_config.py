"""gunicorn's settings for the Procfile's web process, read with
`gunicorn --config python:checkout.gunicorn_config`: where to listen, from BIND and PORT
(checkout.config.bind_address); everything else stays on the Procfile's command line."""

# gunicorn reads every module-level name that is one of its settings (`config` is one), so
# only the functions are imported.
from checkout.config import bind_address, bind_warning
from checkout.metrics import forget_ended_processes

bind = [bind_address()]


def on_starting(server) -> None:
    """Before the workers start: the counts of web and worker processes gone since are
    dropped (checkout.metrics)."""
    forget_ended_processes()


def when_ready(server) -> None:
    """Warn when proxies are trusted but anyone may connect past them."""
    warning = bind_warning()
    if warning:
        server.log.warning("%s", warning)
