"""Webhook URLs reach only public endpoints: checked when saved, and again, once, at delivery.

Delivery runs in the test's process (`deliver_notification.call_local`), so the resolver can
be the test's: `socket.getaddrinfo` is replaced by `FakeNetwork`, which answers made-up
names and decides where a connection to an address lands; every other name goes to the
real resolver. The endpoints are real local servers that log every connection.
"""

import base64
import contextlib
import http.server
import json
import re
import socket
import socketserver
import ssl
import threading

import certifi
import pytest
import trustme

from checkout import tasks
from tests.helpers import csrf_token, form_post, provider_form

PUBLIC = "93.184.216.34"


class Endpoint:
    """A local TCP server: logs what each connection sent, answers fixed bytes, closes."""

    def __init__(self, answer: bytes = b"", host: str = "127.0.0.1"):
        self.received: list[bytes] = []
        endpoint = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(2)
                data = b""
                while not _complete(data):
                    try:
                        chunk = self.request.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    data += chunk
                endpoint.received.append(data)
                # The client may stop reading early: that is what some tests check.
                with contextlib.suppress(OSError):
                    self.request.sendall(answer)

        server_class = socketserver.ThreadingTCPServer
        if ":" in host:
            server_class = type("Server6", (server_class,), {"address_family": socket.AF_INET6})
        self.server = server_class((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def headers(self) -> list[dict[str, str]]:
        """The request headers of each HTTP request received, names lower-cased."""
        found = []
        for data in self.received:
            head = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
            found.append({k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head)})
        return found


def _complete(data: bytes) -> bool:
    if data[:1] == b"\x16":  # a TLS ClientHello: its first bytes are all the test reads
        return True
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return len(body) >= int(length[1]) if length else True


def http_answer(status: str, body: bytes, content_type: str = "text/plain", **headers) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Connection: close"]
    lines += [f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FakeNetwork:
    """getaddrinfo for made-up names and for routed addresses; other names resolve for real.

    answers[name] is the name's answers in order (the last repeats); each is a socket
    address or a list of them. routes[address] is where a connection to it lands.
    """

    def __init__(self, real):
        self.real = real
        self.answers: dict[str, list] = {}
        self.routes: dict[str, tuple[str, int]] = {}
        self.asked: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        host = host.decode() if isinstance(host, bytes) else host
        if host in self.routes:
            return self.real(*self.routes[host], *args, **kwargs)
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.asked.append(host)
        queue = self.answers[host]
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in address[0] else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                address,
            )
            for address in (answer if isinstance(answer, list) else [answer])
        ]


@pytest.fixture
def network(monkeypatch):
    fake = FakeNetwork(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def endpoints():
    started = []

    def start(answer: bytes = b"", host: str = "127.0.0.1") -> Endpoint:
        endpoint = Endpoint(answer, host)
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()


@pytest.fixture
def strict(app):
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = False


def send_test_event(app, admin_client, provider_id: str) -> tuple[str, str]:
    """Queue a test event from the provider's page and deliver it here; (outcome, its page)."""
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    admin_client.post(
        f"/admin/providers/{provider_id}/test-event", data={"csrf_token": csrf_token(page)}
    )
    deliveries = admin_client.get("/admin/deliveries").text
    [message] = re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', deliveries)
    outcome = []

    def deliver():  # in a thread of its own, with its own connection pools, as a worker
        with app.app_context():
            outcome.append(tasks.deliver_notification.call_local(message))

    worker = threading.Thread(target=deliver)
    worker.start()
    worker.join(30)
    return outcome[0], admin_client.get(f"/admin/deliveries/{message}").text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/x", "127.0.0.1, a loopback address"),
        ("https://[::127.0.0.1]/x", "an IPv4-compatible address"),
        ("https://[::8.8.8.8]/x", "an IPv4-compatible address"),
        ("https://[::FFFF:127.0.0.1]/x", "::ffff:127.0.0.1, which embeds 127.0.0.1, a loopback"),
        ("https://[::ffff:10.0.0.1]/x", "which embeds 10.0.0.1, a private address"),
        ("https://[64:ff9b::7f00:1]/x", "which embeds 127.0.0.1, a loopback address"),
        ("https://[64:ff9b::a9fe:a9fe]/x", "which embeds 169.254.169.254, a link-local"),
        ("https://[64:ff9b:1::5db8:d822]/x", "a local-use NAT64 address"),
        ("https://[2002:7f00:1::]/x", "which embeds 127.0.0.1, a loopback address"),
        ("https://[2002:c0a8:101::1]/x", "which embeds 192.168.1.1, a private address"),
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "a Teredo tunnel address"),
        ("https://224.0.0.1/x", "224.0.0.1, a multicast address"),
        ("https://[ff0e::1]/x", "a multicast address"),
        ("https://[fec0::1]/x", "a site-local address"),
        ("https://[fe80::1]/x", "a link-local address"),
        ("https://[fd00::1]/x", "a private address"),
        ("https://0.0.0.0/x", "the unspecified address"),
        ("https://[::]/x", "the unspecified address"),
        ("https://100.64.0.1/x", "not a globally routable address"),
        ("https://240.0.0.1/x", "a reserved address"),
        ("https://93.184.216.34:8443/x", "must use port 443, not 8443"),
        ("https://93.184.216.34:80/x", "must use port 443, not 80"),
        ("https://93.184.216.34:0/x", "URL has an invalid port"),
        ("https://93.184.216.34:00/x", "URL has an invalid port"),
        ("http://93.184.216.34/x", "absolute https URL"),
    ],
)
def test_webhook_url_to_anything_but_a_public_https_endpoint_is_422(
    admin_client, make, strict, url, reason
):
    response = form_post(
        admin_client, "/admin/providers/new", provider_form(make.service(), webhook_url=url)
    )
    assert response.status_code == 422
    assert reason in response.text
    assert "No providers yet" in admin_client.get("/admin/providers").text


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "https://93.184.216.34:443/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://[::ffff:93.184.216.34]/hook",
        "https://[64:ff9b::5db8:d822]/hook",
        "https://[2002:5db8:d822::1]/hook",
    ],
)
def test_public_webhook_addresses_are_accepted(admin_client, make, strict, url):
    response = form_post(
        admin_client, "/admin/providers/new", provider_form(make.service(), webhook_url=url)
    )
    assert response.status_code == 303
    assert "No providers yet" not in admin_client.get("/admin/providers").text


def test_every_address_of_a_name_counts_not_only_the_first(admin_client, make, strict, network):
    network.answers["mixed.test"] = [[(PUBLIC, 443), ("10.0.0.7", 443)]]
    fields = provider_form(make.service(), webhook_url="https://mixed.test/x")
    response = form_post(admin_client, "/admin/providers/new", fields)
    assert response.status_code == 422
    assert "mixed.test resolves to 10.0.0.7, a private address" in response.text


def test_a_host_that_does_not_resolve_is_named_so(admin_client, make, strict, network):
    network.answers["nowhere.test"] = []
    fields = provider_form(make.service(), webhook_url="https://nowhere.test/x")
    response = form_post(admin_client, "/admin/providers/new", fields)
    assert response.status_code == 422
    assert "Webhook host nowhere.test does not resolve" in response.text
    assert "public addresses" not in response.text


def test_the_cli_refuses_a_private_webhook_url(app, runner, make, strict):
    make.service(slug="credits")
    result = runner.invoke(
        args=[
            *("providers", "create", "--name", "X", "--service", "credits", "--json"),
            *("--webhook-url", "https://[64:ff9b::7f00:1]/x"),
        ]
    )
    assert result.exit_code == 1
    assert "which embeds 127.0.0.1, a loopback address" in json.loads(result.output)["error"]


def test_delivery_connects_to_the_address_it_resolved_with_the_host_name(
    app, admin_client, make, network, endpoints
):
    receiver = endpoints(http_answer("200 OK", b"ok"))
    network.answers["receiver.test"] = [("127.0.0.1", receiver.port)]
    url = f"http://receiver.test:{receiver.port}/hook?from=kassa"
    provider_id = make.provider(webhook_url=url).id

    outcome, _ = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    assert network.asked == ["receiver.test"]
    [request] = receiver.received
    assert request.startswith(b"POST /hook?from=kassa HTTP/1.1\r\n")
    assert receiver.headers()[0]["host"] == f"receiver.test:{receiver.port}"


def test_credentials_in_the_url_are_sent_as_basic_auth(app, admin_client, make, endpoints):
    receiver = endpoints(http_answer("200 OK", b"ok"))
    provider_id = make.provider(webhook_url=f"http://kassa:p%40ss@127.0.0.1:{receiver.port}/h").id

    outcome, _ = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    expected = "Basic " + base64.b64encode(b"kassa:p@ss").decode()
    assert receiver.headers()[0]["authorization"] == expected
    assert receiver.headers()[0]["host"] == f"127.0.0.1:{receiver.port}"


def test_delivery_to_an_ipv6_address_names_it_in_brackets(app, admin_client, make, endpoints):
    receiver = endpoints(http_answer("200 OK", b"ok"), host="::1")
    provider_id = make.provider(webhook_url=f"http://[::1]:{receiver.port}/hook").id

    outcome, _ = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    assert receiver.headers()[0]["host"] == f"[::1]:{receiver.port}"


def test_a_rebinding_name_never_gets_a_connection_to_its_private_answer(
    app, admin_client, make, strict, network, endpoints
):
    """The name answers a public address, then 127.0.0.1: only the public one is reached."""
    internal = endpoints(http_answer("200 OK", b"internal secrets"))
    public = endpoints()  # where the network delivers packets for PUBLIC
    network.routes[PUBLIC] = ("127.0.0.1", public.port)
    network.answers["rebind.test"] = [(PUBLIC, 443)]
    provider_id = make.provider(webhook_url="https://rebind.test/hook").id
    network.answers["rebind.test"] = [(PUBLIC, 443), ("127.0.0.1", internal.port)]

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert internal.received == []
    [hello] = public.received
    assert b"rebind.test" in hello, "TLS sends the host name (SNI), not the address"
    assert outcome == "pending"  # the stand-in speaks no TLS: a failed attempt, retried
    assert "internal secrets" not in page


def test_a_host_that_turns_private_is_refused_at_delivery(
    app, admin_client, make, strict, network, endpoints
):
    internal = endpoints(http_answer("200 OK", b"ok"))
    network.answers["turns.test"] = [(PUBLIC, 443)]
    provider_id = make.provider(webhook_url="https://turns.test/hook").id
    network.answers["turns.test"] = [("127.0.0.1", internal.port)]

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "pending"
    assert "Refused: Webhook URL must resolve only to public addresses" in page
    assert "turns.test resolves to 127.0.0.1, a loopback address" in page
    assert internal.received == []


def test_a_host_that_stops_resolving_is_reported_at_delivery(app, admin_client, make, network):
    network.answers["gone.test"] = []
    provider_id = make.provider(webhook_url="http://gone.test:8080/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "pending"
    assert "Refused: Webhook host gone.test does not resolve" in page


def test_a_redirect_is_not_followed(app, admin_client, make, endpoints):
    elsewhere = endpoints(http_answer("200 OK", b"ok"))
    location = f"http://127.0.0.1:{elsewhere.port}/hook"
    redirecting = endpoints(http_answer("307 Temporary Redirect", b"", Location=location))
    provider_id = make.provider(webhook_url=f"http://127.0.0.1:{redirecting.port}/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "pending"
    assert "HTTP 307" in page
    assert len(redirecting.received) == 1
    assert elsewhere.received == []


def test_only_a_short_printable_prefix_of_a_text_answer_is_kept(app, admin_client, make, endpoints):
    body = b"accepted\x1b[31m\x00\xe2\x80\xae" + b"A" * 300 + b"TAIL"
    endpoint = endpoints(http_answer("200 OK", body, "text/plain; charset=utf-8"))
    provider_id = make.provider(webhook_url=f"http://127.0.0.1:{endpoint.port}/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    kept = re.search(r'<pre class="payload">([^<]*)</pre>\s*</details></td></tr>', page)[1]
    assert kept == "accepted[31m" + "A" * (200 - len("accepted[31m")) + "…"
    assert "TAIL" not in page


def test_a_binary_or_huge_answer_is_kept_as_a_note(app, admin_client, make, endpoints):
    body = b"\x89PNG" + bytes(2_000_000)
    endpoint = endpoints(http_answer("200 OK", body, "image/png"))
    provider_id = make.provider(webhook_url=f"http://127.0.0.1:{endpoint.port}/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    assert f"(binary body, {len(body)} bytes)" in page
    assert "PNG" not in page


def test_an_empty_answer_without_a_content_type_is_kept_as_a_note(
    app, admin_client, make, endpoints
):
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    endpoint = endpoints(answer)
    provider_id = make.provider(webhook_url=f"http://127.0.0.1:{endpoint.port}/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome != "delivered"
    assert "<td>400</td>" in page or ">400<" in page
    assert '<pre class="payload">(empty body)</pre>' in page


class TlsEndpoint:
    """An https endpoint on 127.0.0.1 whose certificate names one host, from a test CA."""

    def __init__(self, ca, name: str):
        self.headers: list[dict[str, str]] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_endpoint(tmp_path, monkeypatch):
    """Start https endpoints for a name; the trust store holds only their test CA."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setattr(certifi, "where", lambda: str(ca_file))
    started = []

    def start(name: str) -> TlsEndpoint:
        started.append(TlsEndpoint(ca, name))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.close()


def test_tls_is_checked_against_the_host_name_while_connecting_to_the_address(
    app, admin_client, make, network, tls_endpoint
):
    receiver = tls_endpoint("receiver.test")
    network.answers["receiver.test"] = [("127.0.0.1", receiver.port)]
    provider_id = make.provider(webhook_url=f"https://receiver.test:{receiver.port}/hook").id

    outcome, _ = send_test_event(app, admin_client, provider_id)

    assert outcome == "delivered"
    assert network.asked == ["receiver.test"]
    assert receiver.headers[0]["host"] == f"receiver.test:{receiver.port}"


def test_a_certificate_for_another_name_is_refused(app, admin_client, make, network, tls_endpoint):
    impostor = tls_endpoint("other.test")
    network.answers["receiver.test"] = [("127.0.0.1", impostor.port)]
    provider_id = make.provider(webhook_url=f"https://receiver.test:{impostor.port}/hook").id

    outcome, page = send_test_event(app, admin_client, provider_id)

    assert outcome == "pending"
    assert "SSLError" in page and "receiver.test" in page
    assert impostor.headers == []


def test_the_cli_names_a_host_that_does_not_resolve(runner, make, strict, network):
    network.answers["nowhere.test"] = []
    make.service(slug="shop-credits")
    result = runner.invoke(
        args=[
            *("providers", "create", "--name", "Shop", "--service", "shop-credits", "--json"),
            *("--webhook-url", "https://nowhere.test/x"),
        ]
    )
    assert result.exit_code == 1
    assert "Webhook host nowhere.test does not resolve" in result.output
    assert "public addresses" not in result.output


@pytest.mark.parametrize("field", ["webhook_url", "success_url", "cancel_url"])
def test_port_0_is_refused_even_for_local_development(admin_client, make, field):
    """ALLOW_PRIVATE_WEBHOOK_URLS (on in the suite) lifts the port rule, not this one."""
    fields = provider_form(make.service(), **{field: "http://127.0.0.1:0/hook"})
    response = form_post(admin_client, "/admin/providers/new", fields)
    assert response.status_code == 422
    assert "URL has an invalid port" in response.text
    assert "No providers yet" in admin_client.get("/admin/providers").text
