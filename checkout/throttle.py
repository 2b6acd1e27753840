"""Counting attempts per key in the database, so every web process sees the same counts."""

import hashlib
from datetime import timedelta

from sqlalchemy import delete, func, select

from checkout.extensions import db
from checkout.models import ThrottleHit, utcnow


def _digest(key: str) -> str:
    # Keys are IPs and e-mail addresses: only their hashes are stored.
    return hashlib.sha256(key.encode()).hexdigest()


def count(bucket: str, key: str, window: timedelta) -> int:
    """Attempts recorded for this key within the window."""
    since = utcnow() - window
    return db.session.scalar(
        select(func.count())
        .select_from(ThrottleHit)
        .where(
            ThrottleHit.bucket == bucket,
            ThrottleHit.key_hash == _digest(key),
            ThrottleHit.created_at >= since,
        )
    )


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
