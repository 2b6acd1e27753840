"""Admin views for providers: settings, API keys, signing secrets, allowlists, signatures, logo."""

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from checkout import (
    api_access,
    branding,
    catalog,
    credentials,
    notifications,
    webhook_endpoints,
)
from checkout.admin.common import (
    actor,
    attach_error,
    bp,
    confirm,
    keep_for_one_view,
    render_invalid,
    require_action_form,
    service_choices,
    take_for_one_view,
)
from checkout.admin.forms import (
    ActionForm,
    AllowlistForm,
    ApiKeyForm,
    BrandingForm,
    EndpointForm,
    ProviderForm,
)
from checkout.catalog import ProviderFields
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import ApiKey, Provider, SignatureFormat


def _provider_form(provider: Provider | None = None) -> ProviderForm:
    form = ProviderForm(obj=provider)
    form.service_id.choices = service_choices()
    return form


def _provider_fields(form: ProviderForm) -> ProviderFields:
    return ProviderFields(
        name=form.name.data,
        slug=form.slug.data,
        service_id=form.service_id.data,
        active=form.active.data,
        use_stripe_checkout=form.use_stripe_checkout.data,
        webhook_url=form.webhook_url.data,
        success_url=form.success_url.data,
        cancel_url=form.cancel_url.data,
        embed_origins=form.embed_origins.data,
        contact_email=form.contact_email.data,
        terms_url=form.terms_url.data,
        privacy_url=form.privacy_url.data,
    )


def _show_new_key(key: ApiKey, plaintext: str):
    """Redirect to the page that shows the new key once (Post/Redirect/Get)."""
    keep_for_one_view(f"key:{key.id}", plaintext)
    return redirect(url_for("admin.new_key", provider_id=key.provider_id, key_id=key.id), code=303)


@bp.get("/providers/<provider_id>/keys/<key_id>")
def new_key(provider_id: str, key_id: str):
    """A new key's plaintext, on its first view only."""
    key = credentials.find_key(provider_id, key_id)
    if key is None:
        abort(404)
    return render_template(
        "admin/key_created.html",
        provider=key.provider,
        key=key,
        plaintext=take_for_one_view(f"key:{key.id}"),
    )


@bp.get("/providers")
def providers():
    """All providers."""
    return render_template("admin/providers.html", providers=catalog.all_providers())


@bp.route("/providers/new", methods=["GET", "POST"])
def new_provider():
    """Create a provider and its first API key."""
    form = _provider_form()
    if not form.service_id.choices:
        flash("Create a service first: every provider sells one.", "error")
        return redirect(url_for("admin.new_service"))
    if form.validate_on_submit():
        try:
            provider = catalog.create_provider(_provider_fields(form), actor=actor())
        except ValidationError as error:
            attach_error(form, error)
        else:
            key, plaintext = credentials.issue_key(provider, "default", actor=actor())
            return _show_new_key(key, plaintext)
    if form.errors:
        return render_invalid("admin/provider_form.html", form=form, provider=None)
    return render_template("admin/provider_form.html", form=form, provider=None)


def provider_page(
    row: Provider,
    key_form: ApiKeyForm | None = None,
    status: int = 200,
    allowlist_form: AllowlistForm | None = None,
    endpoint_form: EndpointForm | None = None,
    new_endpoint_secret: str | None = None,
):
    """The provider's page (with a form's errors, when one was refused)."""
    if allowlist_form is None:
        allowlist_form = AllowlistForm()
        allowlist_form.ip_allowlist.data = row.ip_allowlist
    return render_template(
        "admin/provider.html",
        provider=row,
        key_form=key_form or ApiKeyForm(),
        allowlist_form=allowlist_form,
        secret_lost=api_access.secret_lost(row),
        action_form=ActionForm(),
        max_keys=credentials.MAX_ACTIVE_KEYS,
        deliveries=notifications.latest_for_provider(row.id, 10),
        provider_logo=branding.logo_path(row),
        overlap_hours=int(webhook_endpoints.overlap().total_seconds() // 3600),
        endpoint_form=endpoint_form or EndpointForm(),
        max_endpoints=webhook_endpoints.ENDPOINTS_MAX,
        new_endpoint_secret=new_endpoint_secret,
    ), status


@bp.get("/providers/<provider_id>")
def provider(provider_id: str):
    """A provider's settings, API keys, signing secret and latest deliveries."""
    return provider_page(db.get_or_404(Provider, provider_id))


@bp.route("/providers/<provider_id>/edit", methods=["GET", "POST"])
def edit_provider(provider_id: str):
    """Change a provider's settings."""
    row = db.get_or_404(Provider, provider_id)
    form = _provider_form(row)
    if form.validate_on_submit():
        try:
            catalog.update_provider(row, _provider_fields(form), actor=actor())
        except ValidationError as error:
            attach_error(form, error)
        else:
            flash(f"Provider {row.name} saved.", "success")
            return redirect(url_for("admin.provider", provider_id=row.id))
    if form.errors:
        return render_invalid("admin/provider_form.html", form=form, provider=row)
    return render_template("admin/provider_form.html", form=form, provider=row)


# Branding: what customers see of the provider


# A logo of up to branding.LOGO_MAX_BYTES and the form around it; every other request keeps
# the app's MAX_CONTENT_LENGTH.
LOGO_UPLOAD_BYTES = 256 * 1024


@bp.url_value_preprocessor
def _allow_logo_uploads(endpoint: str | None, _values: dict | None) -> None:
    # Runs before any before_request function (CSRF, the NUL check) reads the form.
    if endpoint == "admin.provider_branding":
        request.max_content_length = LOGO_UPLOAD_BYTES


def _branding_changes(form: BrandingForm) -> branding.BrandingChanges:
    upload = form.logo_file.data
    logo = upload.read(branding.LOGO_MAX_BYTES + 1) if isinstance(upload, FileStorage) else None
    return branding.BrandingChanges(
        display_name=form.display_name.data or "",
        accent_color=form.accent_color.data or "",
        logo=logo,
        remove_logo=form.remove_logo.data,
    )


@bp.route("/providers/<provider_id>/branding", methods=["GET", "POST"])
def provider_branding(provider_id: str):
    """Change the provider's display name, accent colour and logo."""
    row = db.get_or_404(Provider, provider_id)
    form = BrandingForm(obj=row)
    if form.validate_on_submit():
        try:
            branding.set_branding(row, _branding_changes(form), actor=actor())
        except ValidationError as error:
            attach_error(form, error, {"logo": "logo_file"})
        else:
            flash(f"Branding of {row.name} saved.", "success")
            return redirect(url_for("admin.provider", provider_id=row.id))
    template, look = "admin/provider_branding.html", branding.brand(row)
    if form.errors:
        return render_invalid(template, form=form, provider=row, brand=look)
    return render_template(template, form=form, provider=row, brand=look)


@bp.post("/providers/<provider_id>/keys")
def issue_key(provider_id: str):
    """Create a named API key and show it once."""
    row = db.get_or_404(Provider, provider_id)
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            key, plaintext = credentials.issue_key(
                row, form.name.data, form.scopes.data, actor=actor()
            )
        except ValidationError as error:
            attach_error(form, error)
        else:
            return _show_new_key(key, plaintext)
    return provider_page(row, key_form=form, status=422)


def _key_or_404(provider_id: str, key_id: str, *, confirming: bool = False) -> ApiKey:
    key = credentials.find_key(provider_id, key_id)
    if key is None:
        abort(404)
    if not confirming:
        require_action_form()
    return key


def _back_to_provider(provider_id: str) -> str:
    return url_for("admin.provider", provider_id=provider_id)


@bp.route("/providers/<provider_id>/keys/<key_id>/revoke", methods=["GET", "POST"])
def revoke_key(provider_id: str, key_id: str):
    """Revoke an API key; requests with it fail from now on."""
    if request.method == "GET":
        key = _key_or_404(provider_id, key_id, confirming=True)
        return confirm(
            f"Revoke key {key.name}?",
            f"Requests with the key {key.prefix}… are refused from now on. This cannot be undone.",
            "Revoke key",
            _back_to_provider(provider_id),
        )
    key = _key_or_404(provider_id, key_id)
    credentials.revoke_key(key, actor=actor())
    flash(f"Key {key.name} ({key.prefix}…) revoked.", "success")
    return redirect(url_for("admin.provider", provider_id=provider_id))


@bp.route("/providers/<provider_id>/keys/<key_id>/regenerate", methods=["GET", "POST"])
def regenerate_key(provider_id: str, key_id: str):
    """Revoke a key and issue its replacement, shown once."""
    if request.method == "GET":
        key = _key_or_404(provider_id, key_id, confirming=True)
        return confirm(
            f"Regenerate key {key.name}?",
            f"The key {key.prefix}… stops working at once and a new key with the same name "
            "and scopes is shown to you once. Give it to the provider before they need it.",
            "Regenerate key",
            _back_to_provider(provider_id),
        )
    key = _key_or_404(provider_id, key_id)
    try:
        new_key, plaintext = credentials.regenerate_key(key, actor=actor())
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.provider", provider_id=provider_id))
    return _show_new_key(new_key, plaintext)


def _provider_for_action(provider_id: str) -> Provider:
    row = db.get_or_404(Provider, provider_id)
    if request.method == "POST":
        require_action_form()
    return row


@bp.post("/providers/<provider_id>/test-event")
def send_test_event(provider_id: str):
    """Queue a signed test notification to the provider's webhook URL."""
    row = _provider_for_action(provider_id)
    try:
        notification = notifications.send_test(row.primary_endpoint, actor=actor())
    except notifications.NoWebhookUrl as error:
        flash(error.message, "error")
        return redirect(url_for("admin.provider", provider_id=row.id))
    flash("Test event queued.", "success")
    return redirect(url_for("admin.delivery", notification_id=notification.id))


@bp.route("/providers/<provider_id>/rotate-secret", methods=["GET", "POST"])
def rotate_secret(provider_id: str):
    """Replace the signing secret; the old one also signs for the overlap (24 hours)."""
    row = _provider_for_action(provider_id)
    hours = int(webhook_endpoints.overlap().total_seconds() // 3600)
    if request.method == "GET":
        return confirm(
            f"Rotate the signing secret of {row.name}?",
            "Notifications are signed with a new secret from now on; the current one also "
            f"signs them for {hours} hours, so the provider has time to switch.",
            "Rotate secret",
            _back_to_provider(row.id),
        )
    if row.primary_endpoint is None:
        flash("Set a webhook URL first: the secret belongs to its endpoint.", "error")
        return redirect(url_for("admin.provider", provider_id=row.id))
    webhook_endpoints.rotate_secret(row.primary_endpoint, actor=actor())
    flash(f"New signing secret. The previous one keeps signing for {hours} hours.", "success")
    return redirect(url_for("admin.provider", provider_id=row.id))


@bp.post("/providers/<provider_id>/enable-endpoint")
def enable_endpoint(provider_id: str):
    """Deliver again to an endpoint that answered 410 Gone."""
    row = _provider_for_action(provider_id)
    if row.primary_endpoint is not None:
        webhook_endpoints.enable(row.primary_endpoint, actor=actor())
    flash("Endpoint enabled. Resend failed notifications from the deliveries page.", "success")
    return redirect(url_for("admin.provider", provider_id=row.id))


# Who may use the provider's keys: allowlist and signed requests


@bp.post("/providers/<provider_id>/allowlist")
def set_allowlist(provider_id: str):
    """Replace the networks the provider's API requests may come from."""
    row = db.get_or_404(Provider, provider_id)
    form = AllowlistForm()
    if form.validate_on_submit():
        try:
            networks = api_access.set_allowlist(row, [form.ip_allowlist.data or ""], actor=actor())
        except ValidationError as error:
            attach_error(form, error)
        else:
            flash(
                f"Allowlist saved: {len(networks)} network(s)."
                if networks
                else "Allowlist cleared: requests may come from any address.",
                "success",
            )
            return redirect(url_for("admin.provider", provider_id=row.id))
    return provider_page(row, status=422, allowlist_form=form)


def _show_request_secret(row: Provider, secret: str):
    """Redirect to the page that shows the new request-signing secret once."""
    keep_for_one_view(f"request-secret:{row.id}", secret)
    return redirect(url_for("admin.new_request_secret", provider_id=row.id), code=303)


@bp.get("/providers/<provider_id>/request-secret/shown")
def new_request_secret(provider_id: str):
    """A new request-signing secret, on its first view only."""
    row = db.get_or_404(Provider, provider_id)
    return render_template(
        "admin/request_secret.html",
        provider=row,
        secret=take_for_one_view(f"request-secret:{row.id}"),
    )


@bp.route("/providers/<provider_id>/signatures/<state>", methods=["GET", "POST"])
def require_signatures(provider_id: str, state: str):
    """Require signed API requests (on) or stop requiring them (off)."""
    if state not in ("on", "off"):
        abort(404)
    row = _provider_for_action(provider_id)
    if request.method == "GET":
        if state == "on":
            return confirm(
                f"Require signed requests from {row.name}?",
                "From now on every API request with this provider's keys must carry a "
                "Signature header; unsigned requests are refused with 401. "
                + (
                    "A request-signing secret is generated and shown to you once."
                    if api_access.request_secret(row) is None
                    else "The current request-signing secret stays valid."
                ),
                "Require signed requests",
                _back_to_provider(row.id),
            )
        return confirm(
            f"Stop requiring signed requests from {row.name}?",
            "API requests with this provider's keys are accepted without a Signature header.",
            "Stop requiring signatures",
            _back_to_provider(row.id),
        )
    secret = api_access.require_signatures(row, state == "on", actor=actor())
    if secret is not None:
        return _show_request_secret(row, secret)
    flash(
        "Signed requests required." if state == "on" else "Signed requests no longer required.",
        "success",
    )
    return redirect(url_for("admin.provider", provider_id=row.id))


SIGNATURE_FORMAT_CHOICES = {
    SignatureFormat.TIMESTAMPED: (
        "Accept only timestamped signatures?",
        "Each request must carry Signature: t=<unix time>,v1=<HMAC of "
        '"t.METHOD.path?query.body">, within 5 minutes of this server\'s time, and each '
        "signature is accepted once. Requests signed over the body alone are refused with 401.",
        "Accept only timestamped signatures",
    ),
    SignatureFormat.BODY: (
        "Also accept signatures of the body alone?",
        "The inbound-transaction guide's form, HMAC of the raw body, is then accepted too. "
        "Such a signature can be replayed, and sent to another path: every GET carries the "
        "same one. Choose it only for a provider that cannot sign timestamps yet.",
        "Accept body-only signatures",
    ),
}


@bp.route("/providers/<provider_id>/signature-format/<choice>", methods=["GET", "POST"])
def set_signature_format(provider_id: str, choice: str):
    """Choose what the provider's signed requests sign (SignatureFormat)."""
    if choice not in {member.value for member in SignatureFormat}:
        abort(404)
    row = _provider_for_action(provider_id)
    signature_format = SignatureFormat(choice)
    if request.method == "GET":
        title, text, button = SIGNATURE_FORMAT_CHOICES[signature_format]
        return confirm(title, text, button, _back_to_provider(row.id))
    api_access.require_signatures(row, row.require_signed_requests, signature_format, actor=actor())
    flash(f"Signature format: {signature_format.value}.", "success")
    return redirect(url_for("admin.provider", provider_id=row.id))


@bp.route("/providers/<provider_id>/request-secret", methods=["GET", "POST"])
def generate_request_secret(provider_id: str):
    """Replace the request-signing secret and show it once; the old one stops working."""
    row = _provider_for_action(provider_id)
    if request.method == "GET":
        return confirm(
            f"Generate a new request-signing secret for {row.name}?",
            "The current secret stops working at once: requests the provider signs with it "
            "are refused until they use the new one, which is shown to you once.",
            "Generate new secret",
            _back_to_provider(row.id),
        )
    return _show_request_secret(row, api_access.generate_secret(row, actor=actor()))
