"""HTTP to providers' endpoints: to the address that was checked, reading a bounded answer.

A webhook URL's host is resolved once (`urls.webhook_target`) and the connection goes to
that address: asking DNS again when connecting would let a rebinding name server answer a
private address the second time. TLS still verifies the certificate for the URL's host
name and sends it as SNI, and the Host header carries it too.

An attempt has one deadline for all of it: connecting, the TLS handshake, sending, and
the answer. Socket timeouts alone bound each read, not their sum, so an endpoint sending
a byte now and then could hold a worker for as long as it liked; at the deadline a
watchdog shuts the attempt's socket down, which ends whatever read or write waits on it.
"""

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from checkout.urls import WebhookTarget

# What a delivery attempt reads of an answer, and what the delivery log keeps of it.
READ_LIMIT = 4096
KEPT_CHARACTERS = 200
TEXT_TYPES = ("application/json", "application/problem+json")

_local = threading.local()


@dataclass(frozen=True)
class Answer:
    """What an endpoint answered: its status and a short text excerpt of its body."""

    status: int
    excerpt: str


class AttemptTimeout(urllib3.exceptions.TimeoutError):
    """The endpoint had not answered when the attempt's deadline passed."""


class Deadline:
    """When one attempt must be over; the sockets it opened, shut down at that moment."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.passed = False  # the watchdog shut the attempt's sockets down
        self.over = False  # the attempt ended; nothing of it is left to shut down
        self.sockets: list[socket.socket] = []


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer closed it first
        sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One thread per process that ends the attempts whose deadline has passed.

    It shuts down a duplicate of each attempt's socket: a shutdown ends every read and
    write on the connection, in the TLS handshake too, and the duplicate keeps the
    descriptor from being reused by another connection before the attempt lets it go.
    """

    def __init__(self):
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._pid: int | None = None

    def arm(self, seconds: float) -> Deadline:
        """A deadline this many seconds from now, watched from now on."""
        deadline = Deadline(seconds)
        with self._wake:
            if self._pid != os.getpid():  # none yet, or this is a forked child
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="delivery-deadlines", daemon=True).start()
            heapq.heappush(self._due, (deadline.at, next(self._order), deadline))
            self._wake.notify()
        return deadline

    def watch(self, deadline: Deadline, sock: socket.socket) -> None:
        """Shut this socket of the attempt down at its deadline (now, if it has passed)."""
        duplicate = sock.dup()
        with self._wake:
            deadline.sockets.append(duplicate)
            if deadline.passed:
                _shut(duplicate)

    def disarm(self, deadline: Deadline) -> None:
        """The attempt is over: let its sockets go."""
        with self._wake:
            deadline.over = True
            sockets, deadline.sockets = deadline.sockets, []
        for sock in sockets:
            sock.close()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    deadline = heapq.heappop(self._due)[2]
                    if not deadline.over:
                        deadline.passed = True
                        for sock in deadline.sockets:
                            _shut(sock)
                self._wake.wait(self._due[0][0] - now if self._due else None)


_watchdog = Watchdog()


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = getattr(_local, "deadline", None)
        if deadline is not None:
            _watchdog.watch(deadline, sock)
        return sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _pools() -> urllib3.PoolManager:
    if not hasattr(_local, "pools"):
        pools = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
        pools.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        _local.pools = pools
    return _local.pools


def post(target: WebhookTarget, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST once to the target's checked address, never following a redirect, all of it
    within timeout seconds; an answer whose status came in time counts, however much of
    its body did.

    Raises urllib3's HTTPError (a subclass per failure: AttemptTimeout, refused, TLS) or
    OSError.
    """
    pool_kwargs = {}
    if target.scheme == "https":
        pool_kwargs = {"server_hostname": target.host, "assert_hostname": target.host}
    pool = _pools().connection_from_host(
        target.address, target.port, target.scheme, pool_kwargs=pool_kwargs
    )
    parts = urlsplit(target.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        **headers,
        "Host": target.host_header,
        "Accept-Encoding": "identity",
        **urllib3.make_headers(basic_auth=_userinfo(parts)),
    }
    deadline = _watchdog.arm(timeout)
    _local.deadline = deadline
    try:
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                # Connecting is the one step before there is a socket to watch.
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # The socket's timeout (= the deadline) may fire before the watchdog runs.
            if deadline.passed or time.monotonic() >= deadline.at:
                raise _timed_out(timeout) from error
            raise
        if deadline.passed:
            # The head may have been cut short: http.client ends the headers at the EOF
            # the shutdown makes, so an answer that came as the deadline passed is unsure.
            response.close()
            response.release_conn()
            raise _timed_out(timeout)
        try:
            raw = _read_some(response, deadline)
        finally:
            # The rest of the body stays unread, so the connection cannot be reused.
            response.close()
            response.release_conn()
    finally:
        _local.deadline = None
        _watchdog.disarm(deadline)
    return Answer(response.status, excerpt(response.headers, raw))


def _timed_out(timeout: float) -> AttemptTimeout:
    return AttemptTimeout(
        f"no answer within {timeout:g} s (connecting, TLS, sending and the answer's status "
        "and headers, all together)"
    )


def _userinfo(parts) -> str | None:
    if parts.username is None:
        return None
    return f"{unquote(parts.username)}:{unquote(parts.password or '')}"


def _read_some(response: urllib3.BaseHTTPResponse, deadline: Deadline) -> bytes:
    """At most READ_LIMIT bytes of the body: what came before the deadline."""
    raw = b""
    while len(raw) < READ_LIMIT and not deadline.passed:
        try:
            chunk = response.read(min(1024, READ_LIMIT - len(raw)), decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError):
            if deadline.passed:
                break
            raise
        if not chunk:
            break
        raw += chunk
    return raw


def excerpt(headers, raw: bytes) -> str:
    """What the delivery log keeps of a body: a short printable text prefix, or a note."""
    if not raw:
        return "(empty body)"
    mimetype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    textual = mimetype.startswith("text/") or mimetype in TEXT_TYPES or mimetype.endswith("+json")
    if not textual or encoding != "identity":
        declared = headers.get("Content-Length", "")
        size = declared if declared.isdigit() else f"{len(raw)}{'+' * (len(raw) >= READ_LIMIT)}"
        return f"(binary body, {size} bytes)"
    text = raw.decode("utf-8", "replace")
    # Control, format (bidi overrides) and unassigned characters are dropped, not shown.
    text = "".join(
        ch for ch in text if ch in "\n\t" or not unicodedata.category(ch).startswith("C")
    )
    return text[:KEPT_CHARACTERS] + ("…" if len(text) > KEPT_CHARACTERS else "")
