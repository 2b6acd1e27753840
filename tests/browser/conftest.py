"""Browser-test helpers: a stand-in provider website on its own port."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.browser


class _ProviderPage(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"<!doctype html><title>Provider</title><h1>Back at the provider</h1>{self.path}"
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider_site():
    """A provider's website, where the checkout sends customers back to."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProviderPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
