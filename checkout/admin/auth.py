"""Signing admins in and out, and how long a session lasts."""

import hmac
import time
import unicodedata
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from checkout import accounts, web
from checkout.admin.common import bp
from checkout.admin.forms import ActionForm, LoginForm
from checkout.extensions import limiter
from checkout.models import Admin

# When the session last made an admin request (Unix seconds); rewritten at most once a
# minute, so the cookie is not re-sent on every page.
LAST_SEEN = "admin_seen"
LAST_SEEN_STEP = 60
# Set at each sign-in: this browser signed in as this admin before (see _known_browser).
KNOWN_BROWSER_COOKIE = "kassa_admin_browser"
KNOWN_BROWSER_SECONDS = 365 * 86400


def _is_local_path(target: str) -> bool:
    # Browsers drop tabs and newlines and read "\" as "/", so "/\t/evil.example" and
    # "/\\evil.example" leave the site; control characters cannot go in a header at all.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None) -> str:
    # Only a path on this site: anything else would make the sign-in form an open redirect.
    if target and _is_local_path(target):
        return target
    return url_for("admin.dashboard")


def start_session(admin: Admin) -> None:
    """Sign the admin in for this browser, with the admin's current session version."""
    login_user(admin)
    session[LAST_SEEN] = int(time.time())


def session_is_live() -> bool:
    """Whether the signed-in admin was active recently enough; ends an idle session."""
    now = int(time.time())
    seen = session.get(LAST_SEEN)
    idle_minutes = current_app.config["ADMIN_SESSION_IDLE_MINUTES"]
    # No time at all: a session from before idle timeouts, or one a remember cookie made.
    if not isinstance(seen, int) or now - seen > idle_minutes * 60:
        logout_user()
        session.pop(LAST_SEEN, None)
        if isinstance(seen, int):
            flash(f"You were signed out after {idle_minutes} minutes without activity.", "error")
        return False
    if now - seen >= LAST_SEEN_STEP:
        session[LAST_SEEN] = now
    return True


def _typed_email() -> str:
    return request.form.get("email", "").strip().lower()


def _keyed(purpose: str, text: str) -> str:
    # Keyed-hashed: the limiter's storage (Redis) and cookies never hold a typed address,
    # nor a hash one could guess it from.
    message = f"{purpose}|{text}".encode()
    return hmac.new(current_app.secret_key.encode(), message, "sha256").hexdigest()


def _account_and_client() -> str:
    """The rate-limit key of one e-mail address tried from one client."""
    return "login:" + _keyed("account-client", f"{_typed_email()}|{web.client_key()}")


def _account() -> str:
    """The rate-limit key of one e-mail address, whichever client tries it."""
    return "login-account:" + _keyed("account", _typed_email())


def _known_browser() -> bool:
    """Whether this browser signed in before as the admin whose e-mail it types: its failed
    sign-ins are not counted per account, so strangers guessing never slow the owner there."""
    token = request.cookies.get(KNOWN_BROWSER_COOKIE, "")
    return hmac.compare_digest(token, _keyed("known-browser", _typed_email()))


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(web.configured_limit("RATE_LIMIT_LOGIN"), key_func=web.client_key, methods=["POST"])
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LOGIN_ACCOUNT"), key_func=_account_and_client, methods=["POST"]
)
# Counts only wrong passwords, from every client, in a short window: many addresses
# guessing one account are slowed, and the owner waits a minute at most (none in a
# browser that signed in before), never a lockout.
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT"),
    key_func=_account,
    methods=["POST"],
    deduct_when=_failed,
    exempt_when=_known_browser,
)
def login():
    """Sign an admin in; a client with repeated failures is refused for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        result = accounts.log_in(form.email.data, form.password.data, web.client_address())
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
        start_session(result.admin)
        response = redirect(_safe_next(request.args.get("next")))
        known = _keyed("known-browser", result.admin.email)
        return web.set_private_cookie(
            response, KNOWN_BROWSER_COOKIE, known, max_age=KNOWN_BROWSER_SECONDS, path="/admin/"
        )
    status = 422 if form.errors else 200
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out, here and in every other session of this admin."""
    if ActionForm().validate_on_submit():
        accounts.end_sessions(current_user)
        logout_user()
        session.pop(LAST_SEEN, None)
    return redirect(url_for("admin.login"))
