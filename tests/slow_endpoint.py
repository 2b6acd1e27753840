"""A provider endpoint that answers slowly on purpose: a real socket server in a thread.

    endpoint = SlowEndpoint(answer, step=10, pause=0.3)

It reads each request, then sends `fast` at once and `answer` `step` bytes every `pause`
seconds, until the answer ends or the client hangs up. With `relay_to=(host, port)` it
forwards the connection to another server instead, dripping that server's bytes the same
way (a TLS handshake, say); `on_request` runs before each answer. Every connection is
logged with when it opened and closed and the request's webhook-id, so a test can tell
how long an attempt held it and whether two attempts at one notification were ever open
at once.
"""

import contextlib
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Connection:
    opened: float
    webhook_id: str | None = None
    closed: float | None = None  # when the client hung up (monotonic)
    sent: int = 0


def http_head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def endless_headers(count: int = 90) -> bytes:
    """A status line and many short header lines: a slow answer that never ends its head."""
    return b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Slow-%d: drip\r\n" % n for n in range(count))


@dataclass
class SlowEndpoint:
    answer: bytes = b""
    step: int = 10
    pause: float = 0.3
    fast: bytes = b""
    relay_to: tuple[str, int] | None = None
    on_request: Callable[[], None] | None = None  # called before answering each request
    connections: list[Connection] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            record = Connection(opened=time.monotonic())
            with self._lock:
                self.connections.append(record)
            handler = self._relay if self.relay_to else self._answer
            threading.Thread(target=handler, args=(client, record), daemon=True).start()

    def _answer(self, client: socket.socket, record: Connection):
        with client:
            request = _read_request(client)
            found = re.search(rb"(?im)^webhook-id:\s*(\S+)", request)
            record.webhook_id = found[1].decode() if found else None
            if self.on_request is not None:
                self.on_request()
            with contextlib.suppress(OSError):
                client.sendall(self.fast)
                self._drip(client, self.answer, record)
            record.closed = record.closed or _wait_for_hang_up(client, self._stopped)

    def _relay(self, client: socket.socket, record: Connection):
        with client, socket.create_connection(self.relay_to) as upstream:
            forward = threading.Thread(target=_pump, args=(client, upstream, record), daemon=True)
            forward.start()
            with contextlib.suppress(OSError):
                while not self._stopped.is_set() and record.closed is None:
                    ready, _, _ = select.select([upstream], [], [], 0.05)
                    if not ready:
                        continue
                    data = upstream.recv(65536)
                    if not data:
                        break
                    for start in range(0, len(data), self.step):
                        if self._stopped.is_set() or record.closed is not None:
                            break
                        client.sendall(data[start : start + self.step])
                        record.sent += len(data[start : start + self.step])
                        time.sleep(self.pause)
            forward.join(10)

    def _drip(self, client: socket.socket, data: bytes, record: Connection):
        """Send data step bytes at a time; stop when the client hangs up."""
        for start in range(0, len(data), self.step):
            if self._stopped.is_set():
                return
            client.sendall(data[start : start + self.step])
            record.sent += len(data[start : start + self.step])
            if _hung_up(client, self.pause):
                record.closed = time.monotonic()
                return

    def open_count(self, webhook_id: str | None = None) -> int:
        """Connections not yet closed by the client (for one webhook-id, if given)."""
        with self._lock:
            return sum(
                record.closed is None and webhook_id in (None, record.webhook_id)
                for record in self.connections
            )

    def most_open_at_once(self, webhook_id: str) -> int:
        """The most connections for one webhook-id that were open at the same moment."""
        with self._lock:
            spans = [
                (record.opened, record.closed or float("inf"))
                for record in self.connections
                if record.webhook_id == webhook_id
            ]
        return max((sum(o <= start < c for o, c in spans) for start, _ in spans), default=0)

    def close(self):
        self._stopped.set()
        self.listener.close()


def _read_request(client: socket.socket) -> bytes:
    client.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        while length and len(body) < int(length[1]):
            chunk = client.recv(65536)
            if not chunk:
                break
            body += chunk
        data = head + b"\r\n\r\n" + body
    client.settimeout(None)
    return data


def _hung_up(client: socket.socket, wait: float) -> bool:
    """Wait up to `wait` seconds; True if the client closed its end meanwhile."""
    ready, _, _ = select.select([client], [], [], wait)
    if not ready:
        return False
    try:
        return client.recv(65536) == b""  # a client sends nothing after its request
    except OSError:
        return True


def _wait_for_hang_up(client: socket.socket, stopped: threading.Event) -> float | None:
    """After the answer: keep the connection until the client closes it; when it did."""
    while not stopped.is_set():
        if _hung_up(client, 0.05):
            return time.monotonic()
    return None


def _pump(source: socket.socket, target: socket.socket, record: Connection):
    """Forward the client's bytes upstream; note when the client hangs up."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    record.closed = time.monotonic()
