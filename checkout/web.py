"""What the blueprints share: the HTTP status each domain error answers with, headers, the
client's address and the configured rate limits."""

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from babel import localedata
from flask import Response, current_app, g, request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from checkout import (
    accounts,
    api_access,
    link_holds,
    notifications,
    opening,
    orders,
    payment_links,
    payments,
    stripe_events,
    stripe_gateway,
    throttle,
    urls,
    webhook_endpoints,
)
from checkout.errors import DomainError, ValidationError
from checkout.models import Provider

# The one place a domain error becomes an HTTP status.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    ValidationError: 422,
    opening.AmountInvalid: 422,
    opening.AmountRefused: 400,
    opening.PaymentNotConfigured: 400,
    opening.ServiceUnavailable: 409,
    opening.ExternalIdTaken: 409,
    orders.NotUnderpaid: 409,
    stripe_gateway.CashAppUnavailable: 400,
    payment_links.LinkClosed: 410,
    link_holds.LinkBusy: 409,
    link_holds.HoldLimitReached: 429,
    payment_links.LinkMisconfigured: 409,
    payments.RefundError: 422,
    payments.RefundNotAllowed: 409,
    payments.CancelRefused: 409,
    stripe_events.AlreadyApplied: 409,
    notifications.NoWebhookUrl: 409,
    webhook_endpoints.EndpointLimitReached: 409,
    accounts.TooManyAttempts: 429,
    api_access.ClientNotAllowed: 403,
    api_access.SignatureInvalid: 401,
    api_access.ScopeMissing: 403,
}

NO_STORE = {"Cache-Control": "no-store"}


def allow_framing(origin: str) -> None:
    """Let this answer be shown in a frame on `origin` only (the pay overlay; an origin
    embedding.framing_origin allowed): create_app's headers send `frame-ancestors <origin>`
    instead of 'none', and no X-Frame-Options."""
    g.frame_ancestor = origin


def frame_ancestor() -> str | None:
    """The origin allow_framing let frame this answer, if any."""
    return g.get("frame_ancestor")


def posted_from_here() -> bool:
    """Whether a form was posted from one of Kassa's own pages: the browser's Origin header
    names this host. A framed page's form stands on it instead of the session's CSRF token,
    since browsers keep Kassa's SameSite cookies from a frame on another site."""
    origin = request.headers.get("Origin", "")
    return bool(origin) and urlsplit(origin).netloc == request.host


# What a person reads for a status or mode (the `status_label` filter of every page); the
# API, the CSV exports and the CLI's JSON keep the raw values. "retrying" is a notification
# that is pending after a failed attempt (Notification.retrying).
STATUS_LABELS = {
    "pending": "Pending",
    "processing": "Processing",
    "paid": "Paid",
    "underpaid": "Underpaid",
    "failed": "Failed",
    "canceled": "Canceled",
    "partially_refunded": "Partially refunded",
    "refunded": "Refunded",
    "disputed": "Disputed",
    "dispute_lost": "Dispute lost",
    "expired": "Expired",
    "delivered": "Delivered",
    "retrying": "Retrying",
    "cashapp": "Cash App Pay",
    "stripe_buy_button": "Stripe Buy Button",
}


def status_label(value: str) -> str:
    """'partially_refunded' -> 'Partially refunded'; an unlisted value in the same style."""
    return STATUS_LABELS.get(value) or str(value).replace("_", " ").capitalize()


def status_for(error: DomainError) -> int:
    """The HTTP status that answers a domain error."""
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    raise LookupError(f"No HTTP status for {type(error).__name__}")


def retry_after(error: DomainError) -> dict:
    """The Retry-After header of a refusal that says how long to wait (a 429), else none."""
    seconds = getattr(error, "retry_after", None)
    return {"Retry-After": str(seconds)} if seconds else {}


def error_code(error: DomainError) -> str:
    """The machine-readable code of a domain error: its class's name in snake_case
    (ExternalIdTaken: external_id_taken), so every error has one and none is kept twice."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


def client_address() -> str:
    """The client's address: the connection's peer, or, with TRUSTED_PROXIES, what the trusted
    proxies said it was (ProxyFix, installed by create_app, has already set remote_addr).

    Every throttle, visitor count, rate-limit key and log line takes the address from here.
    Only an IP address is believed: a forwarded value that is not one (anything a client put
    in X-Forwarded-For) gives way to the connection's peer, so no header text reaches a
    key, a log line or an error message.
    """
    for candidate in (request.remote_addr, _peer_address()):
        try:
            return str(ipaddress.ip_address(candidate or ""))
        except ValueError:
            continue
    return "unknown"


def _peer_address() -> str | None:
    """The connection's own peer, before ProxyFix replaced it."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def client_key() -> str:
    """The client as every rate limit counts it: its address, or for IPv6 its /64 (the rule
    lockouts, holds and visitor counts use too)."""
    return throttle.client_key(client_address())


def passed_the_limits(response: Response) -> bool:
    """Whether a limit of all clients (per link) counts this request: not when a limit
    refused it (429), so a client stopped by its own limit uses up no one else's."""
    return response.status_code != 429


def set_private_cookie(response: Response, name: str, value: str, max_age: int, path: str):
    """Set a first-party cookie no script reads: HttpOnly, SameSite=Lax, and Secure with an
    https PUBLIC_BASE_URL (as the session cookie and HSTS)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=(current_app.config["PUBLIC_BASE_URL"] or "").startswith("https://"),
    )
    return response


def configured_limit(name: str) -> Callable[[], str]:
    """A rate limit read from the app's config (RATE_LIMIT_…) on each request, for Flask-Limiter."""
    return lambda: current_app.config[name]


# Every locale Babel has data for; the browser's Accept-Language picks among them.
# English first: it is what "*" (any language) gets.
KNOWN_LOCALES = ("en", *(name for name in localedata.locale_identifiers() if name != "en"))


def request_locale() -> str:
    """The locale of the viewer's Accept-Language that Babel knows best; English otherwise."""
    return _best_locale(request.headers.get("Accept-Language", "")[:200])


@lru_cache(maxsize=256)
def _best_locale(header: str) -> str:
    # Matching against a thousand locales takes a while: browsers send few distinct headers.
    return parse_accept_header(header, LanguageAccept).best_match(KNOWN_LOCALES) or "en"


@dataclass
class Seller:
    """Who sells, as customer pages name them: the provider's name and its site, if known,
    and the terms and privacy policy the page's footer links to."""

    name: str | None
    site: str | None
    terms_url: str | None = None
    privacy_url: str | None = None

    @property
    def site_host(self) -> str | None:
        return urlsplit(self.site).netloc if self.site else None


def seller(provider: Provider | None) -> Seller:
    """The seller behind an order or link: its provider's name, and the origin of its
    cancel or success URL as its site (providers have no contact field of their own)."""
    if provider is None:
        return Seller(None, None)
    return Seller(
        provider.name,
        urls.site_of(provider.cancel_url, provider.success_url),
        terms_url=provider.terms_url or None,
        privacy_url=provider.privacy_url or None,
    )
