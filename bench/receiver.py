"""A fast provider endpoint for benchmarks: answers 200 and notes when each order arrived."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARRIVALS: dict[str, float] = {}
COUNT = [0]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out as two writes; with Nagle's algorithm the second
    # waits for the client's delayed ACK (40 ms), which made every request take 44 ms.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.time()
        try:
            order_id = json.loads(body).get("orderId")
        except ValueError:
            order_id = None
        with LOCK:
            COUNT[0] += 1
            if order_id and order_id not in ARRIVALS:
                ARRIVALS[order_id] = arrived
        self._reply(b'{"ok": true}')

    def do_GET(self):
        with LOCK:
            payload = json.dumps({"count": COUNT[0], "arrivals": ARRIVALS}).encode()
        self._reply(payload)

    def do_DELETE(self):
        with LOCK:
            ARRIVALS.clear()
            COUNT[0] = 0
        self._reply(b"{}")

    def _reply(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
