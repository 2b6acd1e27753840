"""A notification receiver for local development (`flask dev-receiver`): it verifies each
delivery with the Standard Webhooks reference library, as a provider's backend would, and
says in one line what arrived."""

import json
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from standardwebhooks import Webhook, WebhookVerificationError

PATH = "/kassa-notifications"
MAX_BODY = 1024 * 1024


def verified(secrets: list[str], headers: dict[str, str], body: bytes) -> dict | None:
    """The notification if one of the secrets signed it (and its timestamp is fresh)."""
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            continue
        # Read again with exact amounts: the library's reading makes 15.00 the float 15.0.
        return json.loads(body, parse_float=Decimal)
    return None


def describe(notification: dict) -> str:
    """One line for a verified notification: its event, order, status and amount."""
    event = notification.get("event", "?")
    if "orderId" not in notification:
        return f"{event}: {notification.get('message', '')}".rstrip(": ")
    amount = notification.get("amount")
    currency = (notification.get("currency") or "").upper()
    parts = [event, notification["orderId"], notification.get("status") or ""]
    if amount is not None:
        parts.append(f"{amount} {currency}")
    if notification.get("externalId"):
        parts.append(f"externalId {notification['externalId']}")
    return "  ".join(part for part in parts if part)


class Receiver(ThreadingHTTPServer):
    """Listens on 127.0.0.1; each POST to PATH is verified and told to `say` (with its whole
    body when show_body)."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        secrets: Callable[[], list[str]],
        say: Callable[[str], None],
        show_body: bool = False,
    ):
        self.secrets = secrets
        self.say = say
        self.show_body = show_body
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{PATH}"

    def start(self) -> Thread:
        """Serve in a background thread."""
        thread = Thread(target=self.serve_forever, name="dev-receiver", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if self.path != PATH or not length.isdigit() or int(length) > MAX_BODY:
            self._answer(HTTPStatus.NOT_FOUND if self.path != PATH else HTTPStatus.BAD_REQUEST)
            return
        body = self.rfile.read(int(length))
        headers = {name.lower(): value for name, value in self.headers.items()}
        notification = verified(self.server.secrets(), headers, body)
        message_id = headers.get("webhook-id", "no webhook-id")
        if notification is None:
            self.server.say(f"✗ refused ({message_id}): the signature does not verify")
            self._answer(HTTPStatus.UNAUTHORIZED)
            return
        self.server.say(f"✓ {describe(notification)}  ({message_id}, signature verified)")
        if self.server.show_body:
            self.server.say(json.dumps(notification, indent=2, sort_keys=True, default=str))
        self._answer(HTTPStatus.NO_CONTENT)

    def do_GET(self) -> None:
        self._answer(HTTPStatus.OK, "Kassa's development receiver: POST notifications here.\n")

    def _answer(self, status: HTTPStatus, text: str = "") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        """Quiet: each notification is told in its own line instead."""
