"""Inbound webhooks: Stripe's signed events."""

from checkout.webhooks.routes import bp

__all__ = ["bp"]
