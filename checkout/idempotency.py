"""Idempotency keys, as Stripe has them: a request sent with a key runs once, and its answer
is given again to every repeat until the key is purged.

The key is claimed by a row committed before the request runs, so the database's primary
key decides, in every process, which of two copies runs; the other finds the row.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from checkout.extensions import db
from checkout.models import utcnow
from checkout.records import IdempotencyKey

# How long a request holds its key before a repeat may take it over, for a request whose
# process died before it answered: longer than gunicorn lets a request run (30 s).
LEASE = timedelta(seconds=60)


class Found(StrEnum):
    """What a request with an Idempotency-Key finds."""

    HELD = "held"  # the key is this request's now: it runs
    IN_FLIGHT = "in_flight"  # a request with the same body holds it and has not answered
    REUSED = "reused"  # it was sent before with another body
    ANSWERED = "answered"  # it was answered: that answer is the repeat's


@dataclass(frozen=True)
class Claim:
    """A key as a request found it: the lease it holds, or the answer given before."""

    found: Found
    digest: str
    lease: datetime | None = None
    status: int | None = None
    body: str | None = None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def claim(api_key_id: str, method: str, path: str, key: str, body: bytes) -> Claim:
    """Take the key for this request, or say who has it: one API key's key for one method
    and path, whatever other API keys send."""
    digest = _sha256("\n".join((api_key_id, method, path, key)).encode())
    body_digest = _sha256(body)
    now = utcnow()
    lease = now + LEASE
    db.session.add(
        IdempotencyKey(digest=digest, body_digest=body_digest, created_at=now, locked_until=lease)
    )
    try:
        db.session.commit()
        return Claim(Found.HELD, digest, lease=lease)
    except IntegrityError:
        db.session.rollback()
    earlier = db.session.get(IdempotencyKey, digest, populate_existing=True)
    if earlier is None:  # its request failed and freed it just now: this one may run
        return claim(api_key_id, method, path, key, body)
    if earlier.body_digest != body_digest:
        return Claim(Found.REUSED, digest)
    if earlier.locked_until is None:
        return Claim(
            Found.ANSWERED, digest, status=earlier.response_status, body=earlier.response_body
        )
    if earlier.locked_until < now and _take_over(digest, earlier.locked_until, lease):
        return Claim(Found.HELD, digest, lease=lease)
    return Claim(Found.IN_FLIGHT, digest)


def _take_over(digest: str, stale: datetime, lease: datetime) -> bool:
    """Hold a key whose request died holding it; False when another repeat took it first."""
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.digest == digest, IdempotencyKey.locked_until == stale)
        .values(locked_until=lease)
    )
    db.session.commit()
    return taken.rowcount == 1


def keep_answer(held: Claim, status: int, body: str) -> None:
    """Store the answer of the request that holds the key, for its repeats."""
    # Only the key's row is written now: whatever the request left uncommitted is dropped,
    # as the end of the request would drop it.
    db.session.rollback()
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.digest == held.digest, IdempotencyKey.locked_until == held.lease)
        .values(locked_until=None, response_status=status, response_body=body)
    )
    db.session.commit()


def free(held: Claim) -> None:
    """Give the key back unanswered (a server error, a request that never answered): a
    retry with it runs again."""
    db.session.rollback()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.digest == held.digest, IdempotencyKey.locked_until == held.lease
        )
    )
    db.session.commit()


def forget_expired(kept: timedelta) -> int:
    """Delete keys older than `kept`, answered or not; how many."""
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - kept)
    )
    db.session.commit()
    return result.rowcount
