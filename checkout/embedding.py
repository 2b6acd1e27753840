"""The pay overlay: the sites a provider lets show its payment links' pages in a frame
(`Provider.embed_origins`), and whether the overlay can take a link's payment there.

kassa.js on the provider's page asks `overlay()` before it opens a frame; a page framed
for an allowed origin sends `frame-ancestors <that origin>` and posts what the order does
to that origin only. Everything else keeps `frame-ancestors 'none'`.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from checkout import stripe_gateway
from checkout.errors import ValidationError
from checkout.models import PaymentLink, PaymentMode

FIELD = "embed_origins"
ORIGINS_MAX = 20
ENTRY_SHOWN = 60
# Browsers treat these as secure without TLS, so only they may be plain http (development).
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _refused(entry: str, why: str) -> ValidationError:
    shown = entry if len(entry) <= ENTRY_SHOWN else entry[:ENTRY_SHOWN] + "…"
    return ValidationError(FIELD, f"{shown!r} {why}")


def _host(entry: str, host: str) -> str:
    """The origin's host as browsers write it: a lowercase name or an IP address."""
    if not host.isascii():
        raise _refused(entry, "has a host that is not ASCII: write it as xn--… (punycode)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not HOST_NAME.match(host):
            raise _refused(entry, "has no valid host name") from None
        return host
    return f"[{address}]" if address.version == 6 else str(address)


def clean_origin(entry: str) -> str:
    """`https://Shop.Example:443/` -> `https://shop.example`, or ValidationError saying why.

    An origin is a scheme, a host and a port, exactly what a browser reports for a page:
    https (plain http only on this machine, for development), no path, query or user.
    """
    try:
        parts = urlsplit(entry)
        port = parts.port
    except ValueError:
        raise _refused(entry, "is not an origin such as https://shop.example") from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        raise _refused(entry, "is not an origin such as https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or entry.endswith(("?", "#")):
        raise _refused(entry, "has a path: give only https://host (and :port)")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise _refused(entry, "is not https (plain http is only for localhost)")
    shown_host = _host(entry, host)
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{shown_host}:{port}"
    return f"{scheme}://{shown_host}"


def clean_origins(text: str | None) -> list[str]:
    """The origins in a text of them (one a line, or comma separated), normalised and once
    each, or ValidationError naming the first bad one."""
    origins: list[str] = []
    for entry in (part for part in re.split(r"[\s,]+", text or "") if part):
        origin = clean_origin(entry)
        if origin not in origins:
            origins.append(origin)
    if len(origins) > ORIGINS_MAX:
        raise ValidationError(FIELD, f"At most {ORIGINS_MAX} origins")
    return origins


def framing_origin(link: PaymentLink | None, claimed: str | None) -> str | None:
    """The origin a page of this link (or of its order) may be framed by: the one the
    request names (`?embed=`), if the link's provider allows it; else None.

    A password-protected link is never framed: its unlock lives in Kassa's session cookie,
    which browsers do not send to a frame on another site.
    """
    if not claimed or link is None or link.provider is None or link.password_hash:
        return None
    return claimed if claimed in link.provider.embed_origin_list else None


@dataclass(frozen=True)
class Overlay:
    """What kassa.js may do on a page: open the overlay (on phones too), or navigate."""

    available: bool
    on_phones: bool = False
    reason: str | None = None


def overlay(link: PaymentLink, origin: str | None) -> Overlay:
    """Whether kassa.js on a page of `origin` may open this link in an overlay.

    Where the frame could not finish a payment it navigates as without an overlay: Stripe's
    hosted checkout (Buy Button mode) is a page of its own, and Cash App Pay on a phone
    leaves the page for the Cash App app, so only the sandbox pays in an overlay on phones.
    """
    if framing_origin(link, origin) is None:
        if link.password_hash and link.provider and origin in link.provider.embed_origin_list:
            return Overlay(False, reason="password_protected")
        return Overlay(False, reason="origin_not_allowed")
    if stripe_gateway.is_sandbox():
        return Overlay(True, on_phones=True)
    if link.provider.mode is PaymentMode.BUY_BUTTON:
        return Overlay(False, reason="stripe_checkout")
    return Overlay(True, on_phones=False)
