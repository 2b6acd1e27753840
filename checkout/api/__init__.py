"""The provider API, JSON under /api/v1."""

from checkout import web
from checkout.api.routes import bp

__all__ = ["bp"]


@bp.after_request
def _never_cached(response):
    # Answers are a provider's own data, and their URLs may come from the Host header.
    response.headers.update(web.NO_STORE)
    return response
