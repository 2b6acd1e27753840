"""Admin forms. They check shape; the rules live in the services they feed."""

import secrets
from datetime import datetime

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from checkout import accounts, audit, branding, money, notifications, payment_links, web
from checkout.models import ActorKind, AfterPayment, ApiScope, NotificationStatus, OrderStatus

CURRENCY_CHOICES = [SelectChoice(code, code.upper()) for code in sorted(money.EXPONENTS)]


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=512)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=512)]
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=512)],
        description=f"At least {accounts.PASSWORD_MIN} characters",
    )
    repeat_password = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", "The two new passwords differ")],
    )


class CustomFieldSlot(Form):
    """One of a link's or a service's three custom fields; left without a type, not asked."""

    type = SelectField(
        "Type",
        choices=[
            SelectChoice("", "Not asked"),
            SelectChoice("text", "Text"),
            SelectChoice("number", "Number"),
            SelectChoice("dropdown", "Dropdown"),
        ],
        default="",
    )
    label = StringField(
        "Label", validators=[Optional(), Length(max=50)], description="What the customer sees"
    )
    key = StringField(
        "Key",
        validators=[Optional(), Length(max=40)],
        description="Letters, digits and _: names the answer in orders and notifications",
    )
    required = BooleanField("Required")
    options = TextAreaField(
        "Dropdown options",
        validators=[Optional(), Length(max=8000)],
        description="One a line: value=Label (value: letters, digits and _)",
    )


def custom_fields_list() -> FieldList:
    """A link's or a service's three custom field slots."""
    return FieldList(FormField(CustomFieldSlot), min_entries=3, max_entries=3)


def collect_email_select() -> SelectField:
    """Whether a link's or a service's checkout asks the customer's e-mail."""
    return SelectField(
        "Ask for the customer's e-mail",
        choices=[
            SelectChoice("off", "No"),
            SelectChoice("optional", "Optional"),
            SelectChoice("required", "Required"),
        ],
        default="off",
        description="A paid order with an e-mail gets a receipt, a refund its own mail",
    )


class ServiceForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    price = StringField(
        "Unit price", validators=[DataRequired()], description="In major units, e.g. 5 or 12.50"
    )
    currency = SelectField("Currency", choices=CURRENCY_CHOICES, default="usd")
    slug = StringField(
        "Slug", validators=[Optional(), Length(max=64)], description="Left empty: from the title"
    )
    buy_button_id = StringField(
        "Stripe Buy Button ID",
        validators=[Optional(), Length(max=64)],
        description="buy_btn_… from Stripe Dashboard → Payment Links → Buy button",
    )
    stripe_payment_link_id = StringField(
        "Stripe Payment Link ID",
        validators=[Optional(), Length(max=64)],
        description="plink_… of the Payment Link the Buy Button opens; "
        "only its payments settle orders",
    )
    active = BooleanField("Active", default=True)
    # What the checkout of orders opened by API asks.
    custom_fields = custom_fields_list()
    collect_email = collect_email_select()


class ProviderForm(FlaskForm):
    name = StringField("Provider name", validators=[DataRequired(), Length(max=120)])
    slug = StringField(
        "Slug", validators=[Optional(), Length(max=64)], description="Left empty: from the name"
    )
    service_id = SelectField("Linked service", validators=[DataRequired()])
    active = BooleanField("Active", default=True)
    use_stripe_checkout = BooleanField(
        "Use Stripe hosted checkout (Buy Button mode)",
        description="Needs a Buy Button ID on the service; amounts sent by API are ignored",
    )
    webhook_url = URLField(
        "Webhook URL",
        validators=[Optional(), Length(max=2048)],
        description="https; where payment notifications are sent",
    )
    success_url = URLField(
        "Success redirect URL",
        validators=[Optional(), Length(max=2048)],
        description="{orderId} is replaced by the order id",
    )
    cancel_url = URLField(
        "Cancel redirect URL",
        validators=[Optional(), Length(max=2048)],
        description="{orderId} is replaced by the order id",
    )
    contact_email = StringField(
        "Contact e-mail",
        validators=[Optional(), Length(max=320)],
        description="Told when one of its webhook endpoints keeps failing",
    )
    embed_origins = TextAreaField(
        "Sites that may show the pay overlay",
        validators=[Optional(), Length(max=4000)],
        description="Origins such as https://shop.example, one a line: kassa.js on their "
        "pages opens payment links in an overlay. Empty: the button opens the link's page",
    )
    terms_url = URLField(
        "Terms URL",
        validators=[Optional(), Length(max=2048)],
        description='Set: customers tick "I agree to …\'s terms" before paying',
    )
    privacy_url = URLField(
        "Privacy policy URL",
        validators=[Optional(), Length(max=2048)],
        description="Linked beside the terms",
    )


class BrandingForm(FlaskForm):
    display_name = StringField(
        "Display name",
        validators=[Optional(), Length(max=120)],
        description="The name customers see. Empty: the provider's name",
    )
    accent_color = StringField(
        "Accent colour",
        validators=[Optional(), Length(max=7)],
        description="#rrggbb, for the pay button and the page header. Empty: Kassa's colours. "
        "The text on it is white, or black where white would fail WCAG AA (4.5:1)",
    )
    logo_file = FileField(
        "Logo",
        description=f"PNG (at most {branding.LOGO_MAX_PIXELS}×{branding.LOGO_MAX_PIXELS} "
        f"pixels) or SVG, at most {branding.LOGO_MAX_BYTES // 1024} KB. "
        "Empty: keep the current one",
    )
    remove_logo = BooleanField("Remove the logo")


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[DataRequired(), Length(max=60)])
    scopes = MultiCheckboxField(
        "Scopes",
        choices=[SelectChoice(scope.value) for scope in ApiScope],
        default=[scope.value for scope in ApiScope],
        description="What the key may do: at least one",
    )


class EndpointForm(FlaskForm):
    url = URLField(
        "Endpoint URL",
        validators=[DataRequired(), Length(max=2048)],
        description="https; another place notifications are sent to",
    )
    description = StringField("Description", validators=[Optional(), Length(max=255)])
    events = MultiCheckboxField(
        "Events",
        choices=[SelectChoice(event) for event in notifications.EVENTS],
        description="None ticked: every event",
    )


class AllowlistForm(FlaskForm):
    ip_allowlist = TextAreaField(
        "Allowed networks",
        validators=[Optional(), Length(max=4000)],
        description="One IPv4 or IPv6 address or CIDR network a line, e.g. 203.0.113.0/24. "
        "Empty: requests with this provider's keys may come from anywhere",
    )


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor_kind = SelectField(
        "Actor kind",
        choices=[SelectChoice("", "Anyone")] + [SelectChoice(kind.value) for kind in ActorKind],
        default="",
    )
    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    action = SelectField(
        "Action",
        choices=[SelectChoice("", "Any action")]
        + [SelectChoice(action.value) for action in audit.Action],
        default="",
    )
    subject_type = SelectField(
        "Subject",
        choices=[SelectChoice("", "Anything")]
        + [SelectChoice(kind) for kind in audit.SUBJECT_TYPES],
        default="",
    )
    subject_id = StringField("Subject ID", validators=[Optional(), Length(max=255)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class ActionForm(FlaskForm):
    """A button that only carries the CSRF token."""


class OrderFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(status.value, web.status_label(status)) for status in OrderStatus],
        default="",
    )
    provider = SelectField("Provider", default="")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    q = StringField(
        "Search",
        validators=[Optional(), Length(max=255)],
        description="Order ID, external ID or payment link ID, or their beginning",
    )


class StripeEventFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(
        "State",
        choices=[
            SelectChoice("", "Any"),
            SelectChoice("waiting", "Waiting for a worker"),
            SelectChoice("failed", "Failed every attempt"),
        ],
        default="",
    )


class DeliveryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(status.value, web.status_label(status)) for status in NotificationStatus],
        default="",
    )
    provider = SelectField("Provider", default="")
    event = SelectField(
        "Event",
        choices=[SelectChoice("", "Any event")]
        + [SelectChoice(name) for name in notifications.EVENTS],
        default="",
    )


class ResendFailedForm(FlaskForm):
    since = DateTimeLocalField(
        "Failed notifications created since (UTC)", validators=[DataRequired()]
    )


def _request_key() -> str:
    return secrets.token_urlsafe(18)


class RefundForm(FlaskForm):
    amount = StringField(
        "Amount to refund",
        validators=[Optional(), Length(max=32)],
        description="Empty: everything not yet refunded",
    )
    # One per rendered form: submitting it twice (a double click) refunds once.
    request_key = HiddenField(
        default=_request_key,
        validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")],
    )

    def renew(self) -> None:
        """A fresh key, for a form shown again after a refused refund."""
        self.request_key.data = _request_key()


class UtcDateTimeField(StringField):
    """A UTC moment typed as YYYY-MM-DD HH:MM (a T instead of the space is fine too).

    A text input, so every viewer sees the same form: a datetime-local input shows the
    browser's own format (month first in the US) under the form's UTC label.
    """

    FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"placeholder": "YYYY-MM-DD HH:MM"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        self.raw_data = [text]
        self.data = None
        if not text:
            return
        for layout in self.FORMATS:
            try:
                self.data = datetime.strptime(text, layout)
                return
            except ValueError:
                continue
        raise ValueError("Give the moment in UTC as YYYY-MM-DD HH:MM, e.g. 2026-12-31 23:59")

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime(self.FORMATS[0]) if self.data else ""


class LinkForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    service_id = SelectField("Service", validators=[DataRequired()])
    provider_id = SelectField(
        "Provider",
        validators=[Optional()],
        description="Optional: its redirect URLs, mode and notifications apply",
    )
    adjustable_quantity = BooleanField("Customers choose the quantity")
    quantity = IntegerField("Quantity", default=1, validators=[Optional(), NumberRange(1, 10_000)])
    min_quantity = IntegerField(
        "Smallest quantity", default=1, validators=[Optional(), NumberRange(1, 10_000)]
    )
    max_quantity = IntegerField(
        "Largest quantity", default=10, validators=[Optional(), NumberRange(1, 10_000)]
    )
    expires_at = UtcDateTimeField(
        "Expires at (UTC)",
        validators=[Optional()],
        description="UTC, as YYYY-MM-DD HH:MM, e.g. 2026-12-31 23:59. Empty: never",
    )
    password = PasswordField(
        "Password",
        validators=[
            Optional(),
            Length(min=payment_links.PASSWORD_MIN, max=payment_links.PASSWORD_MAX),
        ],
        description="Stored hashed. Empty: keep the current one (or none)",
        render_kw={"autocomplete": "new-password"},
    )
    remove_password = BooleanField("Remove the password")
    max_uses = IntegerField(
        "Maximum completed payments",
        validators=[Optional(), NumberRange(1, 1_000_000)],
        description="Empty: unlimited",
    )
    active = BooleanField("Active", default=True)
    metadata_text = TextAreaField(
        "Metadata",
        validators=[Optional(), Length(max=12_000)],
        description="One key=value per line; sent to Stripe and in notifications",
    )
    after_payment = SelectField(
        "After payment",
        choices=[
            SelectChoice(AfterPayment.MESSAGE.value, "Show a confirmation message"),
            SelectChoice(AfterPayment.REDIRECT.value, "Redirect to a URL"),
        ],
        default=AfterPayment.MESSAGE.value,
    )
    confirmation_message = TextAreaField(
        "Confirmation message", validators=[Optional(), Length(max=1000)]
    )
    redirect_url = URLField(
        "Redirect URL",
        validators=[Optional(), Length(max=2048)],
        description="{orderId} is replaced by the order id",
    )
    # Chosen amounts (issue 21)
    min_amount = DecimalField(
        "Smallest amount",
        places=None,
        validators=[Optional()],
        description="With the largest, customers enter the amount (quantity 1). Empty: the "
        "service's price",
    )
    max_amount = DecimalField("Largest amount", places=None, validators=[Optional()])
    preset_amount = DecimalField(
        "Suggested amount", places=None, validators=[Optional()], description="Optional"
    )
    # What the link's page asks before paying.
    custom_fields = custom_fields_list()
    collect_email = collect_email_select()
