"""The operator's pages under /admin."""

from checkout.admin.routes import bp

__all__ = ["bp"]
