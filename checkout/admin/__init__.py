"""The operator's pages under /admin."""

from checkout.admin import links  # noqa: F401 -- registers the payment-link pages on bp
from checkout.admin.routes import bp

__all__ = ["bp"]
