"""Signing notifications: Standard Webhooks (https://www.standardwebhooks.com/), with the
secrets an endpoint has in use (two for a while after a rotation)."""

import base64
import hashlib
import hmac
from datetime import timedelta

from flask import current_app

from checkout.models import utcnow


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `v1,<base64>` signature of one message."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def secrets_in_use(endpoint) -> list[str]:
    """The secrets an endpoint's notifications are signed with: its current one, and after
    a rotation the previous one too, for WEBHOOK_SECRET_OVERLAP_SECONDS."""
    secrets = [endpoint.secret]
    rotated = endpoint.secret_rotated_at
    overlap = timedelta(seconds=current_app.config["WEBHOOK_SECRET_OVERLAP_SECONDS"])
    if endpoint.previous_secret and rotated and utcnow() - rotated < overlap:
        secrets.append(endpoint.previous_secret)
    return secrets


def signature_header(endpoint, message_id: str, timestamp: int, body: str) -> str:
    """One signature per secret in use, space-separated (Standard Webhooks)."""
    signed = secrets_in_use(endpoint)
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signed)
