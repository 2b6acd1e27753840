"""The operator's pages under /admin: one blueprint, and one module per area registering on it."""

from flask import request
from flask_login import current_user

from checkout import accounts, web
from checkout.admin import (  # noqa: F401 -- importing an area registers its views on bp
    admins,
    audit,
    auth,
    dashboard,
    deliveries,
    discounts,
    endpoints,
    links,
    mail,
    orders,
    providers,
    services,
    stripe_events,
)
from checkout.admin.common import bp, forget_unshown
from checkout.extensions import login_manager
from checkout.models import Admin

__all__ = ["bp"]

# The pages that show a secret held for one view; any other admin page drops it unshown.
SHOWS_A_SECRET = {"admin.new_key", "admin.new_request_secret", "admin.new_endpoint_secret"}


@login_manager.user_loader
def _load_admin(session_id: str) -> Admin | None:
    return accounts.session_admin(session_id)


@bp.before_request
def _require_login():
    if request.endpoint == "admin.login":
        return None
    if not current_user.is_authenticated or not auth.session_is_live():
        return login_manager.unauthorized()
    forget_unshown(SHOWS_A_SECRET)
    return None


@bp.after_request
def _never_cached(response):
    # Admin pages show secrets (a provider's signing secret) and customers' orders.
    response.headers.update(web.NO_STORE)
    return response
