"""Who may use a provider's API key, beyond holding it: the provider's IP allowlist, its
signed-request rule, and the key's scopes.

A signed request carries, in the provider's SignatureFormat:

- timestamped (the default): `Signature: t=<unix time>,v1=<base64 HMAC-SHA256 of
  "<t>.<METHOD>.<path?query>.<raw body>">`. It binds the signature to its request, is
  accepted within TOLERANCE of Kassa's clock, and only once (SeenSignature).
- body (the inbound-transaction guide's scheme, chosen explicitly): `Signature:
  base64(HMAC-SHA256(secret, raw body))`; a GET signs the empty body. Such a signature can
  be replayed and moved to another path: every GET carries the same one. A provider on this
  format may already send timestamped signatures, which are checked as such.

The secret is derived from SECRET_KEY and a random salt kept with the provider, so the
database alone never holds it.
"""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from checkout import audit
from checkout.audit import Action, Actor
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import ApiKey, ApiScope, Provider, SignatureFormat, utcnow
from checkout.records import SeenSignature

log = logging.getLogger(__name__)

ALLOWLIST_MAX = 50
SECRET_PREFIX = "ksig_"  # noqa: S105 -- a label, not a secret
SECRET_SHOWN = 9  # characters of a secret the admin page shows to identify it
ENTRY_SHOWN = 60
# How far a timestamped signature's time may be from Kassa's, either way (as Stripe's).
TOLERANCE = timedelta(minutes=5)
SIGNATURE_MAX = 500  # characters of a Signature header worth reading


class AccessRefused(DomainError):
    """A valid key, used where or how its provider or its scopes do not allow."""


class ClientNotAllowed(AccessRefused):
    """The request came from an address outside the provider's allowlist."""


class SignatureInvalid(AccessRefused):
    """The provider requires signed requests and this one's signature is missing or wrong."""


class SignatureMissing(SignatureInvalid):
    """The provider requires signed requests and this one has no Signature header."""


class SignatureMalformed(SignatureInvalid):
    """The Signature header is not in the provider's format."""


class SignatureExpired(SignatureInvalid):
    """A timestamped signature's time is further from Kassa's than TOLERANCE."""


class SignatureReused(SignatureInvalid):
    """A timestamped signature Kassa already accepted once: a replay."""


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: the method, the path with its query string as sent
    (`/api/v1/orders?limit=5`), the raw body, and the Signature header (None if absent)."""

    method: str
    target: str
    body: bytes
    signature: str | None


class ScopeMissing(AccessRefused):
    """The API key was not given the scope this endpoint needs."""


# The allowlist


def clean_allowlist(entries: list[str]) -> list[str]:
    """Normalised networks (a bare address is one host), or ValidationError naming the entry.

    A network with host bits set (203.0.113.7/24) is refused, not widened: it is more
    likely a typo for one address than a wish to allow 256.
    """
    networks: list[str] = []
    for entry in (part for text in entries for part in re.split(r"[\s,]+", text or "") if part):
        shown = entry if len(entry) <= ENTRY_SHOWN else entry[:ENTRY_SHOWN] + "…"
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            try:
                wider = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValidationError(
                    "ip_allowlist", f"{shown!r} is not an IP address or CIDR network"
                ) from None
            raise ValidationError(
                "ip_allowlist", f"{shown} has host bits set: the network is {wider}"
            ) from None
        if str(network) not in networks:
            networks.append(str(network))
    if len(networks) > ALLOWLIST_MAX:
        raise ValidationError("ip_allowlist", f"At most {ALLOWLIST_MAX} networks")
    return networks


def set_allowlist(provider: Provider, entries: list[str], *, actor: Actor) -> list[str]:
    """Replace the provider's allowlist (empty: any address); returns the networks kept."""
    networks = clean_allowlist(entries)
    before = provider.allowed_networks
    provider.ip_allowlist = "\n".join(networks)
    audit.record(
        actor, Action.ALLOWLIST_CHANGED, "provider", provider.id, before=before, after=networks
    )
    db.session.commit()
    return networks


def client_allowed(provider: Provider, client: str | None) -> bool:
    """Whether an address may use the provider's keys."""
    if not provider.allowed_networks:
        return True
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(network) for network in provider.allowed_networks)


# The request-signing secret


def _derive(provider: Provider) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"kassa request signing\0{provider.id}\0{provider.request_secret_salt}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def request_secret(provider: Provider) -> str | None:
    """The provider's current secret, or None if none was generated or SECRET_KEY changed."""
    if provider.request_secret_salt is None:
        return None
    secret = _derive(provider)
    if not hmac.compare_digest(secret[:SECRET_SHOWN], provider.request_secret_prefix or ""):
        return None
    return secret


def secret_lost(provider: Provider) -> bool:
    """A secret was generated but no longer derives (SECRET_KEY changed): make a new one."""
    return provider.request_secret_salt is not None and request_secret(provider) is None


def _new_secret(provider: Provider, actor: Actor) -> str:
    provider.request_secret_salt = secrets.token_hex(32)
    secret = _derive(provider)
    provider.request_secret_prefix = secret[:SECRET_SHOWN]
    provider.request_secret_created_at = utcnow()
    audit.record(
        actor,
        Action.REQUEST_SECRET_GENERATED,
        "provider",
        provider.id,
        prefix=secret[:SECRET_SHOWN],
    )
    return secret


def generate_secret(provider: Provider, *, actor: Actor) -> str:
    """A new request-signing secret, returned here and never again; the old one stops working."""
    secret = _new_secret(provider, actor)
    db.session.commit()
    return secret


def require_signatures(
    provider: Provider,
    required: bool,
    signature_format: SignatureFormat | None = None,
    *,
    actor: Actor,
) -> str | None:
    """Turn the signed-request rule on or off, and set its format if given; a new secret if
    one had to be made for it."""
    secret = None
    if required and request_secret(provider) is None:
        secret = _new_secret(provider, actor)
    if provider.require_signed_requests != required:
        provider.require_signed_requests = required
        audit.record(actor, Action.SIGNATURES_CHANGED, "provider", provider.id, required=required)
    if signature_format is not None and provider.signature_format != signature_format:
        before = provider.signature_format.value
        provider.signature_format = signature_format
        audit.record(
            actor,
            Action.SIGNATURE_FORMAT_CHANGED,
            "provider",
            provider.id,
            before=before,
            after=signature_format.value,
        )
    db.session.commit()
    return secret


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _timestamped_parts(header: str) -> tuple[int, list[bytes]] | None:
    """The time and v1 signatures of `t=<unix>,v1=<base64>[,v1=…]`, or None if it is not."""
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            signatures.append(_decoded(value))
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def _check_signature(provider: Provider, signed: SignedRequest) -> None:
    header = (signed.signature or "").strip()
    timestamped = provider.signature_format is SignatureFormat.TIMESTAMPED
    if not header:
        raise SignatureMissing(
            "This provider requires signed requests: send a Signature header, "
            + (
                't=<unix time>,v1=<base64 of HMAC-SHA256 of "t.METHOD.path?query.body">'
                if timestamped
                else "base64 of HMAC-SHA256 of the raw body"
            )
            + " with your request-signing secret"
        )
    secret = request_secret(provider)
    if secret is None:
        log.warning("Provider %s requires signatures but has no usable secret", provider.id)
        secret = ""
    header = header[:SIGNATURE_MAX]
    parts = _timestamped_parts(header) if header.startswith("t=") else None
    if parts is not None:
        _check_timestamped(secret, signed, *parts)
        return
    if timestamped:
        raise SignatureMalformed(
            "The Signature header must be t=<unix time>,v1=<base64 HMAC-SHA256>: this provider "
            'signs "t.METHOD.path?query.body", not the body alone'
        )
    expected = _hmac(secret, signed.body)
    if not hmac.compare_digest(expected, _decoded(header)) or not secret:
        raise SignatureInvalid("The Signature header does not match the request body")


def _check_timestamped(
    secret: str, signed: SignedRequest, timestamp: int, given: list[bytes]
) -> None:
    now = time.time()
    if abs(now - timestamp) > TOLERANCE.total_seconds():
        raise SignatureExpired(
            f"The Signature's time t={timestamp} is more than "
            f"{int(TOLERANCE.total_seconds())} seconds from Kassa's ({int(now)}): sign each "
            "request as you send it, with your clock in sync"
        )
    message = f"{timestamp}.{signed.method}.{signed.target}.".encode() + signed.body
    expected = _hmac(secret, message)
    # Every candidate is compared, so the time taken does not say which one matched.
    matched = [hmac.compare_digest(expected, candidate) for candidate in given]
    if not any(matched) or not secret:
        raise SignatureInvalid(
            'The Signature header does not match the request: sign "t.METHOD.path?query.body" '
            f"(here {timestamp}.{signed.method}.{signed.target}.<raw body>)"
        )
    expires_at = datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None) + TOLERANCE
    _use_once(hashlib.sha256(expected).hexdigest(), expires_at)


def _use_once(digest: str, expires_at: datetime) -> None:
    """Record a signature as used, or refuse it if any process did already (primary key)."""
    db.session.add(SeenSignature(digest=digest, expires_at=expires_at))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SignatureReused(
            "This Signature was already used: each signed request is accepted once; sign "
            "a retry again (a new t)"
        ) from None


def forget_seen_signatures() -> int:
    """Delete used signatures whose time is too old to be accepted anyway; how many."""
    result = db.session.execute(delete(SeenSignature).where(SeenSignature.expires_at < utcnow()))
    db.session.commit()
    return result.rowcount


# All three, in the order a caller learns about them


def check_request(key: ApiKey, client: str | None, signed: SignedRequest, scope: ApiScope) -> None:
    """Raise unless the key's provider accepts this address and signature and the key has
    the scope: address first, then signature, so a stranger learns nothing about the key.

    A timestamped signature is spent once it is checked, whatever the request's outcome
    after that, so two copies sent at once cannot both pass."""
    provider = key.provider
    if not client_allowed(provider, client):
        raise ClientNotAllowed(
            f"Requests from {client or 'an unknown address'} are not allowed for this provider"
        )
    if provider.require_signed_requests:
        _check_signature(provider, signed)
    if scope.value not in key.scope_list:
        raise ScopeMissing(f"This API key lacks the {scope.value} scope")
