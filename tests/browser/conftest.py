"""Browser-test helpers: a stand-in provider website on its own port."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        body = self.server.pages.get(path) or (
            f"<!doctype html><title>Provider</title><h1>Back at the provider</h1>{self.path}"
        )
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class Site:
    """A website on another port: `pages` maps paths to HTML; other paths greet the visitor."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
        self.server.pages = {}
        self.pages = self.server.pages
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    website = Site()
    yield website
    website.close()


@pytest.fixture
def provider_site(site):
    """The provider's website URL, where the checkout sends customers back to."""
    return site.url
