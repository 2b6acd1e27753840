"""HTTP to providers' endpoints: to the address that was checked, reading a bounded answer.

A webhook URL's host is resolved once (`urls.webhook_target`) and the connection goes to
that address: asking DNS again when connecting would let a rebinding name server answer a
private address the second time. TLS still verifies the certificate for the URL's host
name and sends it as SNI, and the Host header carries it too.
"""

import threading
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import certifi
import urllib3

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


def _pools() -> urllib3.PoolManager:
    if not hasattr(_local, "pools"):
        _local.pools = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    return _local.pools


def post(target: WebhookTarget, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST once to the target's checked address, never following a redirect.

    Raises urllib3's HTTPError (a subclass per failure: timeout, refused, TLS) or OSError.
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
    deadline = time.monotonic() + timeout
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
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
    )
    try:
        raw = _read_some(response, deadline)
    finally:
        # The rest of the body stays unread, so the connection cannot be reused.
        response.close()
        response.release_conn()
    return Answer(response.status, excerpt(response.headers, raw))


def _userinfo(parts) -> str | None:
    if parts.username is None:
        return None
    return f"{unquote(parts.username)}:{unquote(parts.password or '')}"


def _read_some(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """At most READ_LIMIT bytes of the body, and no reading past the deadline."""
    raw = b""
    while len(raw) < READ_LIMIT and time.monotonic() < deadline:
        chunk = response.read(min(1024, READ_LIMIT - len(raw)), decode_content=False)
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
