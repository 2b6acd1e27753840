"""Provider API keys: issued once in plaintext, stored as SHA-256, checked in constant time."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from checkout import audit
from checkout.audit import Action, Actor
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import ApiKey, ApiScope, Provider, utcnow

KEY_PREFIX = "kassa_"
MAX_ACTIVE_KEYS = 5
KEY_MAX_LENGTH = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(plaintext: str) -> str:
    """The stored form of a key."""
    # Keys are 32 random bytes, so a fast hash is safe; a slow one would only slow every request.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def clean_scopes(scopes: list[str] | None) -> str:
    """The stored form of a key's scopes (None: all), or ValidationError."""
    if scopes is None:
        return " ".join(scope.value for scope in ApiScope)
    known = {scope.value for scope in ApiScope}
    unknown = sorted(set(scopes) - known)
    if unknown:
        raise ValidationError(
            "scopes", f"Unknown scope {unknown[0]!r}; the scopes are {', '.join(ApiScope)}"
        )
    if not scopes:
        raise ValidationError("scopes", "Give the key at least one scope")
    return " ".join(scope.value for scope in ApiScope if scope.value in scopes)


def issue_key(
    provider: Provider, name: str, scopes: list[str] | None = None, *, actor: Actor
) -> tuple[ApiKey, str]:
    """Create a named key (all scopes unless given); the plaintext is returned here and
    never again."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise ValidationError("name", "Give the key a name of 1 to 60 characters")
    if len(provider.active_keys) >= MAX_ACTIVE_KEYS:
        raise ValidationError(
            "name", f"A provider can have at most {MAX_ACTIVE_KEYS} active keys; revoke one first"
        )
    stored_scopes = clean_scopes(scopes)
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        provider=provider,
        name=name,
        prefix=plaintext[:12],
        key_hash=hash_key(plaintext),
        scopes=stored_scopes,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        actor,
        Action.KEY_ISSUED,
        "api_key",
        key.id,
        provider=provider.id,
        name=name,
        prefix=key.prefix,
        scopes=stored_scopes,
    )
    db.session.commit()
    return key, plaintext


def revoke_key(key: ApiKey, *, actor: Actor) -> None:
    """Stop a key from working, keeping its record."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(actor, Action.KEY_REVOKED, "api_key", key.id, prefix=key.prefix)
        db.session.commit()


def regenerate_key(key: ApiKey, *, actor: Actor) -> tuple[ApiKey, str]:
    """Revoke a key and issue a new one with the same name and scopes."""
    key.revoked_at = key.revoked_at or utcnow()
    audit.record(actor, Action.KEY_REGENERATED, "api_key", key.id, prefix=key.prefix)
    return issue_key(key.provider, key.name, key.scopes.split(), actor=actor)


def find_active_key(plaintext: object) -> ApiKey | None:
    """This key, if it is active and its provider too; else None. Finding it changes nothing:
    `record_use` notes its use once the request is accepted."""
    if not isinstance(plaintext, str) or not plaintext.startswith(KEY_PREFIX):
        return None
    if len(plaintext) > KEY_MAX_LENGTH:
        return None
    digest = hash_key(plaintext)
    key = db.session.scalar(
        select(ApiKey)
        .where(ApiKey.key_hash == digest)
        .options(joinedload(ApiKey.provider).joinedload(Provider.service))
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.revoked_at is not None or not key.provider.active:
        return None
    return key


def record_use(key: ApiKey) -> None:
    """Note that the key was just used for an accepted request (to the minute, so a busy key
    is not written on every request)."""
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()


# Queries for the admin pages


def find_key(provider_id: str, key_id: str) -> ApiKey | None:
    """The provider's API key with this id, or None (also when another provider owns it)."""
    key = db.session.get(ApiKey, key_id)
    return key if key is not None and key.provider_id == provider_id else None
