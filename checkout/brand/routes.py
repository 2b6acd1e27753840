"""GET /brand/<provider>/logo-<hash>.<ext>: a provider's logo, as an image and nothing more."""

from flask import Blueprint, abort
from sqlalchemy.orm import undefer

from checkout import branding
from checkout.extensions import db
from checkout.models import Provider

bp = Blueprint("brand", __name__, url_prefix="/brand")

# The URL names the content, so caches may keep it for good. An SVG opened on its own runs
# nothing and loads nothing (sandbox, default-src 'none'); nosniff keeps it an image.
LOGO_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-site",
}


@bp.get("/<provider_id>/logo-<digest>.<ext>")
def logo(provider_id: str, digest: str, ext: str):
    """The logo whose hash the URL names; an older or unknown one is not found."""
    provider = db.session.get(Provider, provider_id, options=[undefer(Provider.logo)])
    if (
        provider is None
        or branding.logo_path(provider) != f"/brand/{provider_id}/logo-{digest}.{ext}"
    ):
        abort(404, description="There is no such logo.")
    headers = {
        **LOGO_HEADERS,
        "Content-Type": provider.logo_type,
        "Content-Disposition": f'inline; filename="logo.{ext}"',
    }
    return provider.logo, 200, headers
