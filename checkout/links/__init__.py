"""The public payment-link pages under /l/<id>."""

from checkout.links.routes import bp

__all__ = ["bp"]
