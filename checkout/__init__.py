"""Kassa: a self-hosted hosted-checkout server."""

import gc
import io
import logging
import math
import sys
import time

import click
from flask import (
    Flask,
    abort,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import exc as sql_errors
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from checkout import (
    admin,
    api,
    brand,
    config,
    database,  # noqa: F401 -- installs the SQLite pragmas
    links,
    logs,
    metrics,
    monitoring,
    page_cache,
    pay,
    stripe_gateway,
    tasks,  # noqa: F401 -- hands work asked for in a transaction to the queue after commit
    web,
    webhooks,
)
from checkout.admin.providers import LOGO_UPLOAD_BYTES
from checkout.cli import register_cli
from checkout.extensions import babel, csrf, db, limiter, login_manager
from checkout.jsonio import DecimalJSONProvider
from checkout.schemas import api_error
from checkout.webhooks.routes import MAX_EVENT_BYTES

log = logging.getLogger(__name__)


def content_security_policy(frame_ancestor: str | None = None) -> str:
    """Every page's policy; only a page web.allow_framing let frame names its one ancestor."""
    ancestors = frame_ancestor or "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' https://js.stripe.com https://*.js.stripe.com",
            "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com "
            "https://checkout.stripe.com",
            "connect-src 'self' https://api.stripe.com https://*.stripe.com",
            "img-src 'self' data: https://*.stripe.com",
            "style-src 'self' 'unsafe-inline'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()

# Browsers that once reached Kassa over https refuse plain http to it for a year.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

JSON_PREFIXES = ("/api/", "/webhooks/")
JSON_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
}
# The `code` of a JSON error Werkzeug raised (else its name in snake_case).
JSON_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}
FRIENDLY_MESSAGES = {
    404: "There is nothing at this address. Check the link you followed, or start again.",
    405: "This page cannot be used that way.",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without building a signer for requests with no cookie.

    Customers, providers' servers and Stripe never send one; only admins do.
    """

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages, CLI."""
    settings = config.load()
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(config.PROJECT_ROOT / "templates"),
        static_folder=str(config.PROJECT_ROOT / "static"),
    )
    app.json = DecimalJSONProvider(app)
    app.session_interface = SessionInterface()
    app.config.update(settings)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers queue for the lock for up to 30 s instead of failing at once.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    if test_config:
        app.config.update(test_config)
    config.check_stripe(app.config)
    config.check_rate_limits(app.config)
    config.check_delivery(app.config)
    for warning in config.secure_storage(app.config):
        log.warning("%s", warning)
    _trust_proxies(app)
    _read_chunked_bodies(app)
    # Outermost: every answer, whatever happens inside, carries the request's id.
    app.wsgi_app = logs.RequestIds(app.wsgi_app, app.config["TRUSTED_PROXIES"])

    _init_extensions(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    _register_template_helpers(app)
    _register_request_hooks(app)
    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    """Bind the unbound extensions (and the page cache) to this app."""
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Sign in to continue."
    limiter.init_app(app)
    babel.init_app(app, locale_selector=web.request_locale)
    page_cache.init_app(app)


def _register_blueprints(app: Flask) -> None:
    """One blueprint per area: checkout pages, payment links, the API, the admin, webhooks."""
    app.register_blueprint(pay.bp)
    app.register_blueprint(links.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(brand.bp)
    app.register_blueprint(monitoring.bp)


def _register_request_hooks(app: Flask) -> None:
    """Refuse NUL bytes before any view; add the security headers to every answer."""

    @app.before_request
    def _refuse_nul_bytes():
        # No text Kassa stores may hold NUL, and PostgreSQL refuses it: answer 400, not 500.
        values = [*request.args.values(), *(request.view_args or {}).values()]
        if request.method == "POST" and request.mimetype in FORM_TYPES:
            values += request.form.values()
        if any("\x00" in str(value) for value in values):
            abort(400, description="The request contains a NUL character.")

    @app.after_request
    def _security_headers(response):
        ancestor = web.frame_ancestor()
        policy = content_security_policy(ancestor) if ancestor else CONTENT_SECURITY_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if ancestor is None:
            # Without frame-ancestors support a browser still never frames a Kassa page.
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if (app.config["PUBLIC_BASE_URL"] or "").startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES proxy hops, take the client's address and scheme from the
    X-Forwarded-For and X-Forwarded-Proto values those hops appended; with 0, ignore them.

    X-Forwarded-Host is never believed: the host of absolute URLs comes from PUBLIC_BASE_URL,
    or from the request itself, never from a header a client can add.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)


class ChunkedBody:
    """WSGI middleware: a chunked request's body (no Content-Length) is read here, up to one
    byte past `ceiling`, and handed on with the Content-Length it had.

    Werkzeug enforces a view's max_content_length on a chunked stream by reading exactly that
    many bytes and stopping: a longer body arrived truncated and was accepted. With its
    length known, every endpoint's own limit answers 413 as it does for Content-Length.
    """

    def __init__(self, wsgi_app, ceiling: int):
        self.wsgi_app = wsgi_app
        self.ceiling = ceiling

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        # Only a server that ends the stream itself (gunicorn, Werkzeug's) can be read to
        # the end; without wsgi.input_terminated Werkzeug reads nothing of such a body.
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            body = _read_at_most(environ["wsgi.input"], self.ceiling + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            # No longer chunked: Werkzeug ignores Content-Length beside Transfer-Encoding.
            del environ["HTTP_TRANSFER_ENCODING"], environ["wsgi.input_terminated"]
        return self.wsgi_app(environ, start_response)


def _read_at_most(stream, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(64 * 1024, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _read_chunked_bodies(app: Flask) -> None:
    """Read chunked bodies up to the largest limit any endpoint has (ChunkedBody)."""
    ceiling = max(app.config["MAX_CONTENT_LENGTH"], MAX_EVENT_BYTES, LOGO_UPLOAD_BYTES)
    app.wsgi_app = ChunkedBody(app.wsgi_app, ceiling)


def create_app_for_process() -> Flask:
    """The app of an entry point (gunicorn, huey_consumer, flask): a configuration error ends
    the process with its reason, and the web and the worker log one line with the mode and
    the Stripe API version."""
    # The modules imported live as long as the process: out of the collector's reach, no
    # collection walks their objects again, nor does the interpreter's exit, which otherwise
    # costs a short command (or a refused start) a fifth of its CPU time.
    gc.freeze()
    try:
        app = create_app()
    except config.ConfigError as error:
        sys.stderr.write(f"Kassa cannot start: {error}\n")
        # 3 is gunicorn's "worker failed to boot": its master stops instead of retrying.
        raise SystemExit(3) from None
    _log_to_stderr(app.config["LOG_FORMAT"])
    for warning in config.check_stripe(app.config):
        log.warning("Stripe test mode: %s", warning)
    if not _is_command_line():
        with app.app_context():
            mode, version = stripe_gateway.stripe_mode(), stripe_gateway.api_version()
        log.info(
            "Kassa starts in %s, Stripe API version %s",
            stripe_gateway.STRIPE_MODE_NAMES[mode],
            version,
        )
    return app


def _is_command_line() -> bool:
    """Whether a `flask --app app …` command is loading the app (Flask's command line is a
    click program, and loads the app inside its context). A command prints only what it was
    asked for: its output is read by people and parsed by scripts, and it starts nothing
    that runs on, so the start line says nothing there (`stripe check` reports the mode)."""
    return click.get_current_context(silent=True) is not None


def _log_to_stderr(log_format: str) -> None:
    """Let Kassa's log lines show in gunicorn's and huey_consumer's output, which configure
    only their own loggers: a handler on the `checkout` logger, in LOG_FORMAT, unless
    logging is set up."""
    logger = logging.getLogger(__name__)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logs.formatter(log_format))
        logger.addHandler(handler)


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _way_back() -> tuple[str, str]:
    """Where an error page offers to go: the admin's dashboard, the payment link the request
    was about (from its Pay or Unlock form), or the start page."""
    if request.path.startswith("/admin"):
        return url_for("admin.dashboard"), "Back to the admin dashboard"
    link_id = (request.view_args or {}).get("link_id")
    if link_id and request.endpoint != "links.show":
        return url_for("links.show", link_id=link_id), "Back to the payment link"
    return url_for("pay.index"), "Go to the start page"


def _retry_after_seconds() -> int:
    """Whole seconds until the breached rate limit's window ends (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.reset_at - time.time()))


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _rate_limited(error: RateLimitExceeded):
    # Nothing was done for this request; Retry-After says when the window ends.
    seconds = _retry_after_seconds()
    # A shared limit's name (api, api-refused, …), else the endpoint's own limit.
    metrics.RATE_LIMITED.labels(getattr(error.limit, "scope", None) or request.endpoint).inc()
    log.info(
        "Rate limit %s reached by %s on %s %s",
        error.description,
        web.client_address(),
        request.method,
        request.path,
    )
    headers = {"Retry-After": str(seconds), **web.NO_STORE}
    if _wants_json():
        message = f"Too many requests: try again in {_wait_words(seconds)}"
        return jsonify(api_error(message, "rate_limited")), 429, headers
    page = render_template(
        "errors/error.html",
        code=429,
        message="You have sent more requests than this page accepts in a short time. "
        "Nothing was changed by the last one.",
        retry_after=_wait_words(seconds),
    )
    return page, 429, headers


def _csrf_error(error):
    message = "The form expired or was sent from elsewhere. Reload the page and try again."
    return render_template("errors/error.html", code=400, message=message), 400


def _http_error(error: HTTPException):
    description = error.description
    if error.code == 413 and request.max_content_length:
        # The limit this request had: the Stripe webhook allows more than the app.
        description = f"Request body is larger than {request.max_content_length // 1024} KiB"
    if _wants_json():
        code = JSON_CODES.get(error.code) or "_".join(error.name.lower().split())
        message = JSON_MESSAGES.get(error.code, description)
        return jsonify(api_error(message, code)), error.code
    if description == type(error).description:
        # Werkzeug's generic sentence; say it in Kassa's words.
        description = FRIENDLY_MESSAGES.get(error.code, description)
    back_url, back_label = _way_back()
    return render_template(
        "errors/error.html",
        code=error.code,
        title=error.name,
        message=description,
        back_url=back_url,
        back_label=back_label,
    ), error.code


def _unexpected(error: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    try:
        db.session.rollback()
    except Exception:
        log.exception("Rollback failed too")
    wrapped = InternalServerError()
    if _wants_json():
        return jsonify(api_error("Internal server error", "internal_error")), 500
    return render_template(
        "errors/error.html", code=500, title=wrapped.name, message=wrapped.description
    ), 500


# How long a client is asked to wait while the database cannot be reached.
DATABASE_RETRY_AFTER_SECONDS = 5
# SQLite's OperationalErrors about the schema (no migration run) are faults, not outages.
SCHEMA_FAULTS = ("no such table", "no such column")


def _database_unavailable(error: Exception):
    """503 with Retry-After while the database cannot be reached (refused, dropped, a full
    pool, a locked SQLite file): nothing was done, and the same request may work soon."""
    reason = str(getattr(error, "orig", None) or error)
    if reason.startswith(SCHEMA_FAULTS):
        return _unexpected(error)
    # The driver's words (host, port, what failed); SQLAlchemy's text would add the SQL.
    log.error("Database unavailable on %s %s: %s", request.method, request.path, reason)
    try:
        db.session.rollback()
    except Exception:
        log.warning("Rollback failed while the database is unavailable", exc_info=True)
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS), **web.NO_STORE}
    # Flask-Login gives every template current_user: loading the admin again would fail
    # again, so the page is rendered for nobody signed in.
    g._login_user = login_manager.anonymous_user()
    if _wants_json():
        message = "The database is unavailable: try again in a few seconds"
        return jsonify(api_error(message, "database_unavailable")), 503, headers
    page = render_template(
        "errors/error.html",
        code=503,
        message="Kassa cannot reach its database just now. Nothing was changed.",
        retry_after=_wait_words(DATABASE_RETRY_AFTER_SECONDS),
    )
    return page, 503, headers


def _register_error_handlers(app: Flask) -> None:
    """JSON errors under the API's prefixes, friendly pages elsewhere; a 500 rolls back."""
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    for outage in (sql_errors.OperationalError, sql_errors.InterfaceError, sql_errors.TimeoutError):
        app.register_error_handler(outage, _database_unavailable)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _register_template_helpers(app: Flask) -> None:
    @app.context_processor
    def _globals():
        # Error pages show it, so a customer can quote it and an operator find the lines.
        request_id = logs.request_id_of(request.environ) if has_request_context() else None
        return {"sandbox_mode": stripe_gateway.is_sandbox(), "request_id": request_id}

    app.add_template_filter(web.status_label, "status_label")

    @app.template_filter("when")
    def _when(moment):
        # UTC on the server and without JavaScript; static/localtime.js shows the viewer's time.
        if not moment:
            return "—"
        utc = moment.strftime("%Y-%m-%d %H:%M UTC")
        return Markup('<time datetime="{}" title="{}" data-local-time>{}</time>').format(
            moment.strftime("%Y-%m-%dT%H:%M:%SZ"), utc, utc
        )
