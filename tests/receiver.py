"""A provider's webhook endpoint, run as its own process, verifying with `standardwebhooks`.

    python tests/receiver.py --port P --secret whsec_…

It answers every POST by its current mode and logs each request:
  POST /_control  {"mode": "ok"|"fail"|"gone", "failFirst": N, "delaySeconds": S,
                   "failRate": 0.2, "secret": "whsec_…"}
  GET  /_log      [{"webhookId", "outcome", "event", "orderId", "signatureOk"}, …]
  GET  /_seen     {webhook-id: requests received so far}, counted on arrival (in flight too)
"""

import argparse
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

STATE = {"mode": "ok", "failFirst": 0, "delaySeconds": 0.0, "failRate": 0.0, "secret": None}
LOG: list[dict] = []
SEEN: Counter = Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        with LOCK:
            self._reply(200, dict(SEEN) if self.path == "/_seen" else LOG)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_control":
            with LOCK:
                STATE.update(json.loads(body))
            self._reply(200, STATE)
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        with LOCK:
            secret = STATE["secret"]
        try:
            Webhook(secret).verify(body.decode(), headers)
            signature_ok = True
        except WebhookVerificationError:
            signature_ok = False
        payload = json.loads(body) if body else {}
        message_id = headers.get("webhook-id")
        with LOCK:
            SEEN[message_id] += 1
            attempt = SEEN[message_id]
            mode, fail_first = STATE["mode"], STATE["failFirst"]
            delay, fail_rate = STATE["delaySeconds"], STATE["failRate"]
        if delay:
            time.sleep(delay)
        if not signature_ok:
            status = 401
        elif mode == "gone":
            status = 410
        elif mode == "fail" or attempt <= fail_first or random.random() < fail_rate:
            status = 500
        else:
            status = 200
        entry = {
            "webhookId": message_id,
            "attempt": attempt,
            "status": status,
            "outcome": "accepted" if status == 200 else "rejected",
            "event": payload.get("event"),
            "orderId": payload.get("orderId"),
            "payload": payload,
            "signatureOk": signature_ok,
            "kassaHeader": headers.get("x-kassa-webhook"),
            "contentType": headers.get("content-type"),
        }
        with LOCK:
            LOG.append(entry)
        self._reply(status, {"ok": status == 200})

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret")
    args = parser.parse_args()
    STATE["secret"] = args.secret
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
