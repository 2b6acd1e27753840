"""Who may use a provider's API key, beyond holding it: the provider's IP allowlist, its
signed-request rule, and the key's scopes.

A signed request carries `Signature: base64(HMAC-SHA256(secret, raw body))`, the scheme of
the inbound-transaction guide; a GET signs the empty body. The secret is derived from
SECRET_KEY and a random salt kept with the provider, so the database alone never holds it.
"""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets

from flask import current_app

from checkout import audit
from checkout.audit import Action, Actor
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import ApiKey, ApiScope, Provider, utcnow

log = logging.getLogger(__name__)

ALLOWLIST_MAX = 50
SECRET_PREFIX = "ksig_"  # noqa: S105 -- a label, not a secret
SECRET_SHOWN = 9  # characters of a secret the admin page shows to identify it
ENTRY_SHOWN = 60


class AccessRefused(DomainError):
    """A valid key, used where or how its provider or its scopes do not allow."""


class ClientNotAllowed(AccessRefused):
    """The request came from an address outside the provider's allowlist."""


class SignatureInvalid(AccessRefused):
    """The provider requires signed requests and this one's signature is missing or wrong."""


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


def require_signatures(provider: Provider, required: bool, *, actor: Actor) -> str | None:
    """Turn the signed-request rule on or off; a new secret if one had to be made for it."""
    secret = None
    if required and request_secret(provider) is None:
        secret = _new_secret(provider, actor)
    if provider.require_signed_requests != required:
        provider.require_signed_requests = required
        audit.record(actor, Action.SIGNATURES_CHANGED, "provider", provider.id, required=required)
    db.session.commit()
    return secret


def _check_signature(provider: Provider, body: bytes, signature: str | None) -> None:
    if not signature:
        raise SignatureInvalid(
            "This provider requires signed requests: send a Signature header, "
            "base64 of HMAC-SHA256 of the raw body with your request-signing secret"
        )
    secret = request_secret(provider)
    if secret is None:
        log.warning("Provider %s requires signatures but has no usable secret", provider.id)
        secret = ""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    if not hmac.compare_digest(expected, given) or not secret:
        raise SignatureInvalid("The Signature header does not match the request body")


# All three, in the order a caller learns about them


def check_request(
    key: ApiKey, client: str | None, body: bytes, signature: str | None, scope: ApiScope
) -> None:
    """Raise unless the key's provider accepts this address and signature and the key has
    the scope: address first, then signature, so a stranger learns nothing about the key."""
    provider = key.provider
    if not client_allowed(provider, client):
        raise ClientNotAllowed(
            f"Requests from {client or 'an unknown address'} are not allowed for this provider"
        )
    if provider.require_signed_requests:
        _check_signature(provider, body, signature)
    if scope.value not in key.scope_list:
        raise ScopeMissing(f"This API key lacks the {scope.value} scope")
