"""The customer-facing checkout pages."""

from checkout.pay.routes import bp

__all__ = ["bp"]
