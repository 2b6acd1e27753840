"""Counting attempts per key in the database, so every web process sees the same counts."""

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from checkout.extensions import db
from checkout.models import utcnow
from checkout.records import ThrottleHit


def client_key(address: str) -> str:
    """Who a client is for every limit, lockout, hold and visitor count: its IPv4 address,
    or for IPv6 its /64, which one customer usually has whole (keying the full address
    would give one customer 2^64 tries)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def _digest(key: str) -> str:
    # Keys are IPs and e-mail addresses: only their hashes are stored.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Lockout:
    """A key refused for now: how long until its next attempt counts again."""

    seconds: int

    @property
    def wait_text(self) -> str:
        """'in 1 minute', 'in 14 minutes': rounded up, so retrying then works."""
        minutes = max(1, math.ceil(self.seconds / 60))
        return f"in {minutes} minute" if minutes == 1 else f"in {minutes} minutes"


def lockout(bucket: str, key: str, window: timedelta, limit: int) -> Lockout | None:
    """None while the key has fewer than `limit` attempts in the window, else how long to wait.

    The wait ends when enough of the counted attempts, oldest first, leave the window.
    """
    now = utcnow()
    times = db.session.scalars(
        select(ThrottleHit.created_at)
        .where(
            ThrottleHit.bucket == bucket,
            ThrottleHit.key_hash == _digest(key),
            ThrottleHit.created_at >= now - window,
        )
        .order_by(ThrottleHit.created_at)
    ).all()
    if len(times) < limit:
        return None
    frees_at = times[len(times) - limit] + window
    return Lockout(max(1, math.ceil((frees_at - now).total_seconds())))


def record(bucket: str, key: str) -> None:
    """Count one attempt; the caller commits."""
    db.session.add(ThrottleHit(bucket=bucket, key_hash=_digest(key)))


def clear(bucket: str, key: str) -> None:
    """Forget a key's attempts (after a success); the caller commits."""
    db.session.execute(
        delete(ThrottleHit).where(
            ThrottleHit.bucket == bucket, ThrottleHit.key_hash == _digest(key)
        )
    )


def purge(older_than: timedelta) -> int:
    """Delete attempts too old to matter; returns how many."""
    result = db.session.execute(
        delete(ThrottleHit).where(ThrottleHit.created_at < utcnow() - older_than)
    )
    db.session.commit()
    return result.rowcount
