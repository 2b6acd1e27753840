"""The provider API, JSON under /api/v1: one module per area on one blueprint (as admin/)."""

from flask import jsonify

from checkout import urls, web
from checkout.api import (  # noqa: F401 -- their views register on bp
    discounts,
    endpoints,
    events,
    links,
    orders,
)
from checkout.api.common import bp
from checkout.api.openapi import openapi_document

__all__ = ["bp"]


@bp.after_request
def _never_cached(response):
    # Answers are a provider's own data, and their URLs may come from the Host header.
    response.headers.update(web.NO_STORE)
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(urls.public_url("")))
