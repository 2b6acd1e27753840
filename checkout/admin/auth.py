"""Signing admins in and out."""

import hmac

from flask import current_app, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from checkout import accounts, web
from checkout.admin.common import bp
from checkout.admin.forms import ActionForm, LoginForm
from checkout.extensions import limiter


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute or protocol-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.dashboard")


def _account_and_client() -> str:
    """The rate-limit key of one e-mail address tried from one client, keyed-hashed: the
    limiter's storage (Redis) never holds a typed address, nor a hash one could guess from."""
    email = request.form.get("email", "").strip().lower()
    pair = f"{email}|{web.client_address()}".encode()
    return "login:" + hmac.new(current_app.secret_key.encode(), pair, "sha256").hexdigest()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LOGIN"), key_func=web.client_address, methods=["POST"]
)
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LOGIN_ACCOUNT"), key_func=_account_and_client, methods=["POST"]
)
def login():
    """Sign an admin in; repeated failures lock the form for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        result = accounts.log_in(form.email.data, form.password.data, web.client_address())
        if result.locked_out:
            form.email.errors = ["Too many failed attempts. Try again in 15 minutes."]
            return render_template("admin/login.html", form=form), 429
        if result.admin is None:
            form.password.errors = ["Wrong e-mail or password."]
            return render_template("admin/login.html", form=form), 401
        login_user(result.admin)
        return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.errors else 200
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out."""
    if ActionForm().validate_on_submit():
        logout_user()
    return redirect(url_for("admin.login"))
