"""Log lines that can be followed: each request's id (X-Request-Id), the order, provider and
event a line is about, and LOG_FORMAT=json. Imports nothing of Kassa's.

The ids live in a context variable: `RequestIds` sets the request's for the whole of it,
views and services `bind` what they learn (the provider after the API key, an order), and
tasks run `bound` to the ids they were queued with, so the worker's lines name the
request that caused them. Only ids are kept, never a key, a secret or a header.
"""

import contextvars
import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from werkzeug.wsgi import ClosingIterator

# What a JSON line carries beside time, level, logger and message, when known.
FIELDS = ("request_id", "order_id", "provider_id", "event_id")
TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"

REQUEST_ID_HEADER = "X-Request-Id"
_ENVIRON_KEY = "kassa.request_id"
# A proxy's id is believed only if it could not carry anything but an id into a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("kassa_log_ids")


def current() -> dict[str, str]:
    """The ids known where this runs: request_id, order_id, provider_id, event_id."""
    return _context.get({})


def bind(**ids: str | None) -> None:
    """Name these ids on every line logged from here until the request or task ends."""
    known = {name: str(value) for name, value in ids.items() if value}
    if known:
        _context.set({**current(), **known})


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Name these ids on the lines logged inside the block (a task's), then forget them."""
    token = _context.set({})
    bind(**ids)
    try:
        yield
    finally:
        _context.reset(token)


def is_sane_request_id(value: str) -> bool:
    """Whether a proxy's X-Request-Id is short and only letters, digits, '.', '_', '-'."""
    return bool(_SANE_REQUEST_ID.fullmatch(value))


def new_request_id() -> str:
    """A request id of Kassa's own: 32 hex digits."""
    return secrets.token_hex(16)


def request_id_of(environ: dict) -> str | None:
    """The id RequestIds gave the request of this WSGI environ."""
    return environ.get(_ENVIRON_KEY)


class RequestIds:
    """WSGI middleware: give each request an id, name it on its log lines, and send it
    back as X-Request-Id on every answer (pages, the API, errors, static files).

    The id a proxy sent is kept when `trusted_hops` proxies are trusted (TRUSTED_PROXIES)
    and the request came through them (its X-Forwarded-For has that many entries), and
    when it is sane; otherwise Kassa makes one, so no client chooses what its lines say.
    """

    def __init__(self, wsgi_app, trusted_hops: int):
        self.wsgi_app = wsgi_app
        self.trusted_hops = trusted_hops

    def _from_proxy(self, environ: dict) -> str | None:
        if not self.trusted_hops:
            return None
        forwarded = [hop for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop]
        incoming = environ.get("HTTP_X_REQUEST_ID", "").strip()
        if len(forwarded) < self.trusted_hops or not is_sane_request_id(incoming):
            return None
        return incoming

    def __call__(self, environ, start_response):
        request_id = self._from_proxy(environ) or new_request_id()
        environ[_ENVIRON_KEY] = request_id
        token = _context.set({"request_id": request_id})

        def start_with_id(status, headers, exc_info=None):
            headers = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            return start_response(status, [*headers, (REQUEST_ID_HEADER, request_id)], exc_info)

        try:
            answer = self.wsgi_app(environ, start_with_id)
        except BaseException:
            _context.reset(token)
            raise
        # A streamed body (a CSV export) is still this request's while it is sent.
        return ClosingIterator(answer, lambda: _context.set({}))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the ids
    known where the line was logged, and the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        known = current()
        for name in FIELDS:
            value = getattr(record, name, None) or known.get(name)
            if value:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT: Kassa's text line, or JsonFormatter."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT)


def use_format(logger: logging.Logger, log_format: str) -> None:
    """Give the handlers another program put on a logger (huey's, gunicorn's) this format;
    text leaves theirs as they are."""
    if log_format != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
