"""Signing admins in and out."""

from flask import redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from checkout import accounts
from checkout.admin.common import bp
from checkout.admin.forms import ActionForm, LoginForm


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute or protocol-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign an admin in; a client with repeated failures is refused for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        result = accounts.log_in(form.email.data, form.password.data, request.remote_addr or "")
        if result.lockout:
            form.email.errors = [f"Too many failed attempts. Try again {result.lockout.wait_text}."]
            return (
                render_template("admin/login.html", form=form),
                429,
                {"Retry-After": str(result.lockout.seconds)},
            )
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
