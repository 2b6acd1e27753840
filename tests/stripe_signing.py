"""Stripe events built and signed exactly as Stripe does (Stripe-Signature: t=…,v1=…)."""

import hashlib
import hmac
import json
import secrets
import time

WEBHOOK_SECRET = "whsec_test_kassa"


def event(event_type: str, data_object: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": data_object},
    }


def payment_intent(order_id: str | None, amount: int, status: str, intent_id: str, **extra):
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "metadata": {"orderId": order_id} if order_id else {},
        **extra,
    }


def signature(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_event(client, payload: dict, **signing):
    """POST a signed event to the test client's app, as Stripe does; returns the response.

    Nothing runs the task the app may have queued: the test does, with run_event_task.
    The response keeps the event's id as `response.event_id` for it.
    """
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/stripe",
        data=body,
        headers={
            "Stripe-Signature": signature(body, **signing),
            "Content-Type": "application/json",
        },
    )
    response.event_id = payload["id"]
    return response


def run_event_task(client, response) -> str | None:
    """Run the worker's task for an event that post_event's response says was queued; its
    result ("applied", "no change", …), or None when nothing was queued.

    The task runs as a worker runs it (`huey_consumer` is in tests/plugins/servers.py for
    the multi-process tests).
    """
    if response.status_code != 200 or response.get_json()["result"] != "queued":
        return None
    from checkout import tasks

    with client.application.app_context():
        return tasks.apply_stripe_event.call_local(response.event_id)


def queued_event_ids(app) -> list[str]:
    """Take every task off the Stripe events' queue; the ids of the events it was to apply."""
    from checkout.queue import stripe_huey

    ids = []
    with app.app_context():
        while (task := stripe_huey.dequeue()) is not None:
            if task.name.endswith("apply_stripe_event"):
                ids.append(task.args[0])
    return ids
