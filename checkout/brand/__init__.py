"""Sellers' logos, served by Kassa at URLs that change with the logo."""

from checkout.brand.routes import bp

__all__ = ["bp"]
