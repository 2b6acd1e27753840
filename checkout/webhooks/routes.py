"""POST /webhooks/stripe: verify the signature on the raw body, record the event once."""

import logging

from flask import Blueprint, jsonify, request

from checkout import jsonio, logs, stripe_events, stripe_gateway, tasks
from checkout.extensions import csrf

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
log = logging.getLogger(__name__)

# Stripe's events are small; this leaves room for large Checkout Sessions.
MAX_EVENT_BYTES = 256 * 1024


@bp.post("/stripe")
def stripe_webhook():
    """Acknowledge an event only once it is committed; Stripe retries anything else.

    A worker applies it to its order (see checkout.stripe_events): Stripe asks for a quick
    2xx, and the order's lock and the notification's write stay off this path.
    """
    if not stripe_gateway.webhook_configured():
        return jsonify(error="Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"), 503
    request.max_content_length = MAX_EVENT_BYTES
    payload = request.get_data(cache=False)
    try:
        # Before the signature: parsing recurses once per level, and no event nests deeply.
        jsonio.check_depth(payload)
        event = stripe_gateway.verify_event(payload, request.headers.get("Stripe-Signature"))
        jsonio.check_text(event)
        # verify_event decoded the body as UTF-8 to check the signature, so this cannot fail.
        recorded = stripe_events.record(event, payload.decode())
    except (
        jsonio.BodyRefused,
        stripe_gateway.InvalidWebhook,
        stripe_events.MalformedEvent,
    ) as error:
        log.warning("Refused a Stripe webhook: %s", error)
        return jsonify(error=str(error)), 400
    logs.bind(event_id=recorded.event_id)
    if recorded.to_apply:
        tasks.enqueue(tasks.apply_stripe_event, recorded.event_id)
    return jsonify(received=True, result=recorded.result)
