"""The provider API, JSON under /api/v1."""

from checkout.api.routes import bp

__all__ = ["bp"]
