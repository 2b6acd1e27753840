"""Admin views for the admins themselves: who they are, removing one, changing your password."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from checkout import accounts, web
from checkout.admin.auth import start_session
from checkout.admin.common import attach_error, bp, confirm, render_invalid, require_action_form
from checkout.admin.forms import PasswordChangeForm
from checkout.errors import ValidationError

# The largest id an integer column holds (64 bits, signed); a larger one in a URL is no
# admin's, and SQLite cannot even compare it, so routing answers 404.
MAX_ID = 2**63 - 1


@bp.get("/admins")
def admins():
    """Every admin, with when each last signed in."""
    return render_template("admin/admins.html", admins=accounts.all_admins())


@bp.route(f"/admins/<int(max={MAX_ID}):admin_id>/remove", methods=["GET", "POST"])
def remove_admin(admin_id: int):
    """Remove another admin; their sessions end at once."""
    admin = accounts.find_admin(admin_id)
    if admin is None:
        abort(404)
    if request.method == "GET":
        return confirm(
            f"Remove the admin {admin.email}?",
            "They are signed out everywhere at once and can no longer sign in.",
            "Remove admin",
            url_for("admin.admins"),
        )
    require_action_form()
    email = admin.email
    try:
        accounts.remove_admin(admin, by=current_user)
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash(f"Admin {email} removed.", "success")
    return redirect(url_for("admin.admins"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Change your own password; your other sessions end, this one stays signed in."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        admin = current_user._get_current_object()
        try:
            accounts.change_password(
                admin,
                form.current_password.data,
                form.new_password.data,
                web.client_address(),
            )
        except accounts.TooManyAttempts as refused:
            form.current_password.errors = [refused.message]
            return (
                render_template("admin/password.html", form=form),
                web.status_for(refused),
                {"Retry-After": str(refused.lockout.seconds)},
            )
        except ValidationError as error:
            attach_error(form, error, {"password": "new_password"})
        else:
            start_session(admin)
            flash("Password changed. Your other sessions are signed out.", "success")
            return redirect(url_for("admin.admins"))
    if form.errors:
        return render_invalid("admin/password.html", form=form)
    return render_template("admin/password.html", form=form)
