"""POST /webhooks/stripe: verify the signature on the raw body, then apply the event once."""

import logging

from flask import Blueprint, jsonify, request

from checkout import stripe_events, stripe_gateway
from checkout.extensions import csrf

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
log = logging.getLogger(__name__)

# Stripe's events are small; this leaves room for large Checkout Sessions.
MAX_EVENT_BYTES = 256 * 1024


@bp.post("/stripe")
def stripe_webhook():
    """Acknowledge an event only once its effect is committed; Stripe retries anything else."""
    if not stripe_gateway.webhook_configured():
        return jsonify(error="Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"), 503
    request.max_content_length = MAX_EVENT_BYTES
    payload = request.get_data(cache=False)
    try:
        event = stripe_gateway.verify_event(payload, request.headers.get("Stripe-Signature"))
        result = stripe_events.apply_event(event)
    except (stripe_gateway.InvalidWebhook, stripe_events.MalformedEvent) as error:
        log.warning("Refused a Stripe webhook: %s", error)
        return jsonify(error=str(error)), 400
    return jsonify(received=True, result=result)
