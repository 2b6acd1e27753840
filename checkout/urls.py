"""URLs: checking the ones admins configure, and building the ones Kassa hands out."""

import ipaddress
import socket
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
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        raise ValidationError(field, "URL has an invalid port") from None
    return parts


def clean_redirect_url(field: str, value: str | None) -> str | None:
    """A success or cancel URL: absolute http(s), may contain {orderId}."""
    value = (value or "").strip()
    if not value:
        return None
    _parts(field, value, ("https", "http"))
    return value


def public_addresses_only(host: str, port: int | None) -> bool:
    """Whether every address the host resolves to is globally routable."""
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            return False
    return bool(infos)


def clean_webhook_url(field: str, value: str | None) -> str | None:
    """A notification URL: https and public, unless ALLOW_PRIVATE_WEBHOOK_URLS is set."""
    value = (value or "").strip()
    if not value:
        return None
    if current_app.config["ALLOW_PRIVATE_WEBHOOK_URLS"]:
        _parts(field, value, ("https", "http"))
        return value
    parts = _parts(field, value, ("https",))
    if not public_addresses_only(parts.hostname, parts.port):
        raise ValidationError(
            field,
            "Webhook URL must resolve only to public addresses "
            "(not private, loopback or link-local)",
        )
    return value


def delivery_refusal(url: str) -> str | None:
    """Why a notification must not go to this URL right now, or None.

    Checked again at delivery time: a host can start resolving to a private address
    after the URL was saved.
    """
    try:
        clean_webhook_url("webhook_url", url)
    except ValidationError as error:
        return f"Refused: {error.message}"
    return None


def provider_redirect(template: str | None, order_id: str) -> str | None:
    """A configured redirect URL with {orderId} filled in, URL-encoded."""
    if not template:
        return None
    return template.replace(ORDER_PLACEHOLDER, quote(order_id, safe=""))


# Where `make run` serves, for absolute URLs printed by the CLI without PUBLIC_BASE_URL.
LOCAL_BASE_URL = "http://localhost:8000"


def base_url() -> str:
    """Where Kassa is reached: PUBLIC_BASE_URL, else the requested host, else `make run`'s."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        base = request.host_url.rstrip("/") if has_request_context() else LOCAL_BASE_URL
    return base


def public_url(path: str) -> str:
    """An absolute URL for a path, on base_url()."""
    return base_url() + path


def checkout_url(order_id: str, base: str | None = None) -> str:
    """The absolute URL of an order's checkout page."""
    return f"{base or base_url()}/checkout?{urlencode({'orderId': order_id})}"


def link_url(link_id: str, base: str | None = None) -> str:
    """The absolute short URL of a payment link, the one its QR code holds."""
    return f"{base or base_url()}/l/{link_id}"
