"""URLs: checking the ones admins configure, and building the ones Kassa hands out."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from flask import current_app, has_request_context, request

from checkout.errors import ValidationError

ORDER_PLACEHOLDER = "{orderId}"
URL_MAX = 2048


def _parts(field: str, value: str, schemes: tuple[str, ...]):
    if len(value) > URL_MAX:
        raise ValidationError(field, f"URL is longer than {URL_MAX} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValidationError(field, "URL must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValidationError(field, f"Enter an absolute {' or '.join(schemes)} URL")
    try:
        port = parts.port  # raises on a malformed port
    except ValueError:
        port = 0
    if port == 0:  # port 0 names no endpoint: it is not the scheme's default
        raise ValidationError(field, "URL has an invalid port")
    return parts


def clean_redirect_url(field: str, value: str | None) -> str | None:
    """A success or cancel URL: absolute http(s), may contain {orderId}."""
    value = (value or "").strip()
    if not value:
        return None
    _parts(field, value, ("https", "http"))
    return value


# Addresses that carry an IPv4 address inside an IPv6 one: judged by the IPv4 address.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Tunnels and local-use translation, never a provider's endpoint.
REFUSED_NETWORKS = {
    ipaddress.ip_network("::/96"): "an IPv4-compatible address",
    ipaddress.ip_network("64:ff9b:1::/48"): "a local-use NAT64 address",
    ipaddress.ip_network("2001::/32"): "a Teredo tunnel address",
}


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook must not go to this address ("a loopback address"), or None if public."""
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"which embeds {embedded}, {inner}" if inner else None
        for network, reason in REFUSED_NETWORKS.items():
            if address in network:
                return reason
        if address.is_site_local:
            return "a site-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a globally routable address"
    return None


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL and the one address it was checked at: deliveries connect to that."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def host_header(self) -> str:
        """The Host header the URL implies (its port only when not the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


DEFAULT_PORTS = {"http": 80, "https": 443}


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to, asked once; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    addresses = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0]).split("%")[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def webhook_target(field: str, value: str) -> WebhookTarget:
    """Check a webhook URL, resolving its host once; the address to deliver to.

    Outside ALLOW_PRIVATE_WEBHOOK_URLS: https on port 443 only, and every address the host
    resolves to must be public, so that no answer of a rebinding DNS server gets through.
    """
    allow_private = current_app.config["ALLOW_PRIVATE_WEBHOOK_URLS"]
    parts = _parts(field, value, ("https", "http") if allow_private else ("https",))
    port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
    if not allow_private and port != 443:
        raise ValidationError(field, f"Webhook URL must use port 443, not {port}")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(field, "Webhook URL has an invalid host name") from None
    addresses = resolve(host, port)
    if not addresses:
        raise ValidationError(field, f"Webhook host {host} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = address_refusal(ipaddress.ip_address(address))
            if reason:
                shown = address if _is_address(host) else f"{host} resolves to {address}"
                raise ValidationError(
                    field,
                    f"Webhook URL must resolve only to public addresses: {shown}, {reason}",
                )
    return WebhookTarget(value, parts.scheme, host, port, addresses[0])


def clean_webhook_url(field: str, value: str | None) -> str | None:
    """A notification URL: https on 443 and public, unless ALLOW_PRIVATE_WEBHOOK_URLS is set."""
    value = (value or "").strip()
    if not value:
        return None
    if current_app.config["ALLOW_PRIVATE_WEBHOOK_URLS"]:
        _parts(field, value, ("https", "http"))
        return value
    webhook_target(field, value)
    return value


def provider_redirect(template: str | None, order_id: str) -> str | None:
    """A configured redirect URL with {orderId} filled in, URL-encoded."""
    if not template:
        return None
    return template.replace(ORDER_PLACEHOLDER, quote(order_id, safe=""))


def site_of(*configured: str | None) -> str | None:
    """The origin (scheme://host[:port]) of the first configured http(s) URL: the seller's
    site, for a customer page's way back."""
    for url in configured:
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}/"
    return None


def base_url() -> str:
    """Where Kassa is reached: PUBLIC_BASE_URL, else the requested host, else localhost on
    the PORT `make run` serves on."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        base = (
            request.host_url.rstrip("/")
            if has_request_context()
            else f"http://localhost:{current_app.config['PORT']}"
        )
    return base


def base_url_is_configured() -> bool:
    """Whether absolute URLs come from PUBLIC_BASE_URL rather than the request's Host header.

    Anything built from the Host header must not be kept by a shared cache: a request with
    a forged Host would put its URLs in answers other people get.
    """
    return bool(current_app.config["PUBLIC_BASE_URL"])


def public_url(path: str) -> str:
    """An absolute URL for a path, on base_url()."""
    return base_url() + path


def checkout_url(order_id: str, base: str | None = None) -> str:
    """The absolute URL of an order's checkout page."""
    return f"{base or base_url()}/checkout?{urlencode({'orderId': order_id})}"


def link_url(link_id: str, base: str | None = None) -> str:
    """The absolute short URL of a payment link, the one its QR code holds."""
    return f"{base or base_url()}/l/{link_id}"
