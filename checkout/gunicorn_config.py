"""gunicorn's settings for the Procfile's web process, read with
`gunicorn --config python:checkout.gunicorn_config`: where to listen, from BIND and PORT
(checkout.config.bind_address), and gunicorn's own lines in LOG_FORMAT; everything else
stays on the Procfile's command line."""

from gunicorn import glogging

from checkout import logs

# gunicorn reads every module-level name that is one of its settings (`config` is one), so
# only the functions are imported.
from checkout.config import ConfigError, bind_address, bind_warning, log_format
from checkout.metrics import forget_ended_processes

bind = [bind_address()]


def on_starting(server) -> None:
    """Before the workers start: the counts of web and worker processes gone since are
    dropped (checkout.metrics)."""
    forget_ended_processes()


class KassaLogger(glogging.Logger):
    """gunicorn's error log and access log (`--access-logfile`) in LOG_FORMAT; with json,
    an access line names the request's id, as the app's lines about it do."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        try:
            chosen = log_format()
        except ConfigError:
            chosen = "text"  # the app refuses to start, and says why
        logs.use_format(self.error_log, chosen)
        logs.use_format(self.access_log, chosen)

    def access(self, resp, req, environ, request_time) -> None:
        with logs.bound(request_id=logs.request_id_of(environ)):
            super().access(resp, req, environ, request_time)


logger_class = KassaLogger


def when_ready(server) -> None:
    """Warn when proxies are trusted but anyone may connect past them."""
    warning = bind_warning()
    if warning:
        server.log.warning("%s", warning)
