"""Typed SQLAlchemy models. They hold data and small invariants, and import no services."""

import base64
import json
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkout import money
from checkout.enums import (
    ALL_SCOPES,
    ActorKind,
    AfterPayment,
    ApiScope,
    CollectEmail,
    NotificationStatus,
    OrderStatus,
    PaymentMode,
    SignatureFormat,
)
from checkout.extensions import db


def utcnow() -> datetime:
    """Now in UTC, naive, as every timestamp is stored."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str, nbytes: int = 12) -> str:
    """A public identifier: a type prefix and random hex."""
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: whsec_ and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def enum_column(enum_class: type[StrEnum]) -> sa.Enum:
    return sa.Enum(
        enum_class,
        native_enum=False,
        length=24,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Admin(UserMixin, db.Model):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Part of every session's user id: raising it signs the admin out everywhere.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: '<id>:<session version>'."""
        return f"{self.id}:{self.session_version}"


class Service(db.Model):
    __tablename__ = "services"

    id: Mapped[str] = mapped_column(
        sa.String(32), primary_key=True, default=lambda: new_id("svc", 6)
    )
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    buy_button_id: Mapped[str | None] = mapped_column(sa.String(64))
    # The Stripe Payment Link (plink_…) behind the Buy Button: only its sessions pay orders.
    stripe_payment_link_id: Mapped[str | None] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # What the checkout of its API-opened orders asks (checkout.custom_fields).
    custom_fields_json: Mapped[str] = mapped_column(sa.Text, default="[]", server_default="[]")
    collect_email: Mapped[CollectEmail] = mapped_column(
        enum_column(CollectEmail), default=CollectEmail.OFF, server_default=CollectEmail.OFF.value
    )

    providers: Mapped[list["Provider"]] = relationship(back_populates="service")

    @property
    def price(self) -> Decimal:
        return money.to_decimal(self.price_minor, self.currency)

    @property
    def price_display(self) -> str:
        return money.display(self.price_minor, self.currency)


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(
        sa.String(32), primary_key=True, default=lambda: new_id("prv", 6)
    )
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"))
    active: Mapped[bool] = mapped_column(default=True)
    use_stripe_checkout: Mapped[bool] = mapped_column(default=False)
    success_url: Mapped[str | None] = mapped_column(sa.String(2048))
    cancel_url: Mapped[str | None] = mapped_column(sa.String(2048))
    # Networks (CIDRs, one a line) API requests with this provider's keys may come from;
    # empty: anywhere.
    ip_allowlist: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Origins (https://shop.example, one a line) whose pages may frame its links' pages in
    # kassa.js's pay overlay; empty: none (checkout.embedding).
    embed_origins: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Where the provider's own people hear that one of its webhook endpoints keeps failing.
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    require_signed_requests: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    signature_format: Mapped[SignatureFormat] = mapped_column(
        enum_column(SignatureFormat),
        default=SignatureFormat.TIMESTAMPED,
        server_default=SignatureFormat.TIMESTAMPED.value,
    )
    # The request-signing secret is derived from SECRET_KEY and this salt, never stored;
    # its first characters identify it on the admin page.
    request_secret_salt: Mapped[str | None] = mapped_column(sa.String(64))
    request_secret_prefix: Mapped[str | None] = mapped_column(sa.String(16))
    request_secret_created_at: Mapped[datetime | None]
    # Branding on customer pages (checkout.branding checks each value): the name customers
    # see (empty: `name`), an accent colour #rrggbb (the text colour on it is computed),
    # and a logo: its bytes (loaded only when served), type and a content hash for its URL.
    display_name: Mapped[str | None] = mapped_column(sa.String(120))
    accent_color: Mapped[str | None] = mapped_column(sa.String(7))
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(sa.String(20))
    logo_hash: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # With terms set, customers tick "I agree to <seller>'s terms" before paying.
    terms_url: Mapped[str | None] = mapped_column(sa.String(2048))
    privacy_url: Mapped[str | None] = mapped_column(sa.String(2048))

    service: Mapped[Service] = relationship(back_populates="providers")
    api_keys: Mapped[list["ApiKey"]] = relationship(
        back_populates="provider", order_by="ApiKey.created_at"
    )
    endpoints: Mapped[list["WebhookEndpoint"]] = relationship(
        back_populates="provider",
        order_by=lambda: (WebhookEndpoint.created_at, WebhookEndpoint.id),
    )

    @property
    def mode(self) -> PaymentMode:
        return PaymentMode.BUY_BUTTON if self.use_stripe_checkout else PaymentMode.CASHAPP

    @property
    def primary_endpoint(self) -> "WebhookEndpoint | None":
        """The provider's first webhook endpoint: the one its settings call its webhook URL."""
        return self.endpoints[0] if self.endpoints else None

    @property
    def webhook_url(self) -> str | None:
        primary = self.primary_endpoint
        return primary.url if primary else None

    @property
    def active_keys(self) -> list["ApiKey"]:
        return [key for key in self.api_keys if key.revoked_at is None]

    @property
    def allowed_networks(self) -> list[str]:
        return self.ip_allowlist.split()

    @property
    def embed_origin_list(self) -> list[str]:
        return self.embed_origins.split()

    @property
    def public_name(self) -> str:
        """The name customers see."""
        return self.display_name or self.name


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(
        sa.String(32), primary_key=True, default=lambda: new_id("key", 6)
    )
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    prefix: Mapped[str] = mapped_column(sa.String(20))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Space-separated ApiScope values.
    scopes: Mapped[str] = mapped_column(
        sa.String(200), default=ALL_SCOPES, server_default=ALL_SCOPES
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    provider: Mapped[Provider] = relationship(back_populates="api_keys")

    @property
    def scope_list(self) -> list[str]:
        granted = set(self.scopes.split())
        return [scope.value for scope in ApiScope if scope.value in granted]


class PaymentLink(db.Model):
    """A reusable, shareable way to pay for a service."""

    __tablename__ = "payment_links"

    id: Mapped[str] = mapped_column(
        sa.String(40), primary_key=True, default=lambda: new_id("plink")
    )
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"), index=True)
    provider_id: Mapped[str | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    quantity: Mapped[int] = mapped_column(default=1)
    adjustable_quantity: Mapped[bool] = mapped_column(default=False)
    min_quantity: Mapped[int] = mapped_column(default=1)
    max_quantity: Mapped[int] = mapped_column(default=1)
    expires_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    max_uses: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    metadata_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    after_payment: Mapped[AfterPayment] = mapped_column(
        enum_column(AfterPayment), default=AfterPayment.MESSAGE
    )
    confirmation_message: Mapped[str] = mapped_column(sa.Text, default="")
    redirect_url: Mapped[str | None] = mapped_column(sa.String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped by every order opened from the link: the row lock that serialises max-uses checks.
    version: Mapped[int] = mapped_column(default=1)
    # A chosen amount (issue 21): the customer enters the amount, from min to max (minor
    # units, the service's currency; quantity 1); all three None for a priced link.
    min_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    max_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    preset_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # What its checkout asks (checkout.custom_fields).
    custom_fields_json: Mapped[str] = mapped_column(sa.Text, default="[]", server_default="[]")
    collect_email: Mapped[CollectEmail] = mapped_column(
        enum_column(CollectEmail), default=CollectEmail.OFF, server_default=CollectEmail.OFF.value
    )

    service: Mapped[Service] = relationship()
    provider: Mapped[Provider | None] = relationship()

    @property
    def link_metadata(self) -> dict[str, str]:
        return json.loads(self.metadata_json or "{}")


class LinkView(db.Model):
    """One opening of a payment link; the visitor is a keyed hash, never an address."""

    __tablename__ = "link_views"
    __table_args__ = (sa.Index("ix_link_views_link_day", "payment_link_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_link_id: Mapped[str] = mapped_column(sa.ForeignKey("payment_links.id"))
    day: Mapped[date]
    visitor_hash: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkViewDay(db.Model):
    """A link's views of one day past the analytics window, counted once the views are deleted."""

    __tablename__ = "link_view_days"

    payment_link_id: Mapped[str] = mapped_column(
        sa.ForeignKey("payment_links.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    views: Mapped[int]
    unique_visitors: Mapped[int]
    # Visitors whose last view (when the day was rolled up) was on this day: added to the
    # distinct visitors of the views still kept, they give the link's unique visitors.
    last_seen_visitors: Mapped[int]


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "external_id"),
        sa.Index("ix_orders_link_client", "payment_link_id", "client_hash"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ord"))
    provider_id: Mapped[str | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    payment_link_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("payment_links.id"), index=True
    )
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    mode: Mapped[PaymentMode] = mapped_column(enum_column(PaymentMode))
    currency: Mapped[str] = mapped_column(sa.String(3))
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int]
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus), default=OrderStatus.PENDING, index=True
    )
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    # The PaymentIntent's client secret, kept so that showing the page again asks Stripe
    # nothing. Stripe.js needs it to confirm the payment; it is never logged or sent elsewhere.
    stripe_client_secret: Mapped[str | None] = mapped_column(sa.String(255))
    paid_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The currency Stripe received paid_amount_minor in (normally the order's).
    paid_currency: Mapped[str | None] = mapped_column(sa.String(3))
    refunded_amount_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount_mismatch: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None]
    # When Kassa last asked Stripe about the order (reconciliation, a customer back from Cash App).
    synced_at: Mapped[datetime | None]
    # Paid with a live Stripe key (false for sandbox and Stripe's test mode).
    livemode: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When an admin accepted an underpayment as payment in full.
    accepted_at: Mapped[datetime | None]
    # Numbers the idempotency key of the PaymentIntent creation; raised after a transient
    # Stripe error, whose answer Stripe would otherwise replay for 24 hours.
    payment_attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the Stripe event behind the latest status change was created: an older event
    # arriving late never moves the order backwards.
    last_event_at: Mapped[datetime | None]
    status_before_dispute: Mapped[OrderStatus | None] = mapped_column(enum_column(OrderStatus))
    dispute_id: Mapped[str | None] = mapped_column(sa.String(255))
    dispute_status: Mapped[str | None] = mapped_column(sa.String(40))
    dispute_reason: Mapped[str | None] = mapped_column(sa.String(80))
    dispute_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    dispute_evidence_due_by: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    # For a payment link's order: a keyed hash of the client's address that opened it (never
    # the address), and one of the browser's cookie, so one browser at one address shares
    # one order and another browser behind the same address never changes it.
    client_hash: Mapped[str | None] = mapped_column(sa.String(64))
    browser_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # A limited link's use, held for the customer from when they start paying
    # (link_holds.start_hold) until held_until, which the checkout page's status poll
    # pushes on; any status change ends it (a payment under way holds by its status).
    hold_started_at: Mapped[datetime | None]
    held_until: Mapped[datetime | None]
    # A discount code (issue 21): the code redeemed (as its row spells it), and what it took
    # off the list price (unit price times quantity); amount_minor is the amount due. A Buy
    # Button order records the discount Stripe applied, without a code of Kassa's.
    discount_code_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("discount_codes.id"), index=True
    )
    discount_code: Mapped[str | None] = mapped_column(sa.String(40))
    discount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # What the customer or provider told (checkout.customer_details); details_at: when the
    # checkout's questions were answered (None while its page still asks them).
    custom_fields_json: Mapped[str | None] = mapped_column(sa.Text)
    customer_email: Mapped[str | None] = mapped_column(sa.String(320))
    customer_locale: Mapped[str | None] = mapped_column(sa.String(16))
    terms_accepted_at: Mapped[datetime | None]
    details_at: Mapped[datetime | None]

    provider: Mapped[Provider | None] = relationship()
    payment_link: Mapped[PaymentLink | None] = relationship()
    service: Mapped[Service] = relationship()
    events: Mapped[list["OrderEvent"]] = relationship(
        back_populates="order", order_by="OrderEvent.id"
    )

    # Concurrent writers that both read version N: the second UPDATE matches no row and fails.
    __mapper_args__ = {"version_id_col": version}

    @property
    def amount(self) -> Decimal:
        return money.to_decimal(self.amount_minor, self.currency)

    @property
    def amount_display(self) -> str:
        return money.display(self.amount_minor, self.currency)

    @property
    def paid_amount_display(self) -> str:
        return money.display_reported(
            self.paid_amount_minor or 0, self.paid_currency or self.currency
        )

    @property
    def refunded_amount_display(self) -> str:
        # Refunds are of the payment, so in the currency it was made in (as orders.order_display).
        return money.display_reported(
            self.refunded_amount_minor, self.paid_currency or self.currency
        )

    @property
    def dispute_amount_display(self) -> str | None:
        disputed = self.dispute_amount_minor
        return None if disputed is None else money.display(disputed, self.currency)

    @property
    def unit_price_display(self) -> str:
        return money.display(self.unit_price_minor, self.currency)

    @property
    def discount_display(self) -> str | None:
        off = self.discount_minor
        return None if off is None else money.display(off, self.currency)

    @property
    def custom_field_values(self) -> list[dict]:
        return json.loads(self.custom_fields_json or "[]")


class OrderEvent(db.Model):
    """One line of an order's timeline."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.String(500))

    order: Mapped[Order] = relationship(back_populates="events")


class Refund(db.Model):
    """A Stripe refund (or a sandbox one) of an order's payment, with Stripe's status.

    Kept per refund id, so a refund that fails or is canceled later is taken back out of
    the order's refunded total, and one that arrives before its payment is not lost.
    """

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    # Stripe's: pending, requires_action, succeeded, failed or canceled.
    status: Mapped[str] = mapped_column(sa.String(24))
    # The admin form submission that asked for it: a double click is one refund.
    request_key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    # Stripe's reason, when the request gave one: duplicate, fraudulent, requested_by_customer.
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StripeEvent(db.Model):
    """A verified Stripe event, recorded once by id; a worker applies it to its order.

    The row is committed before Stripe hears 200, so an acknowledged event is never lost;
    `applied_at` stays empty until the order change and its notification are committed.
    `payload` (the body as received) is kept only until then.
    """

    __tablename__ = "stripe_events"
    __table_args__ = (sa.Index("ix_stripe_events_pending", "applied_at", "received_at"),)

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[str | None] = mapped_column(sa.Text)
    order_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    result: Mapped[str] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]


class WebhookEndpoint(db.Model):
    """Where a provider's notifications go: a URL, the events it takes, its signing secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("we"))
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    description: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    # The provider event types it receives, space-separated; "*": every one.
    events: Mapped[str] = mapped_column(sa.Text, default="*", server_default="*")
    # Turned off by the provider: nothing is written for it until it is turned on.
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    secret: Mapped[str] = mapped_column(sa.String(80), default=new_webhook_secret)
    # Kept signing beside the new one after a rotation, so receivers can switch over.
    previous_secret: Mapped[str | None] = mapped_column(sa.String(80))
    secret_rotated_at: Mapped[datetime | None]
    # It answered 410 Gone: deliveries fail at once until it is enabled again.
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="endpoints")

    @property
    def event_types(self) -> list[str]:
        return self.events.split()

    def takes(self, event: str) -> bool:
        """Whether a notification of this event type is written for the endpoint."""
        return self.events == "*" or event in self.event_types


class Notification(db.Model):
    """An outbox row: one signed message to one of a provider's endpoints, delivered at least
    once. One order change to several endpoints is one message: the same `message_id` (the
    webhook-id), which is also the id of its first row."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=lambda: new_id("msg"))
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    # None once its endpoint was deleted: a resend goes to the provider's first endpoint.
    endpoint_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id"), index=True
    )
    message_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[NotificationStatus] = mapped_column(
        enum_column(NotificationStatus), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # Attempts made before the last resend: the retry schedule counts from here.
    schedule_start: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]
    # When Kassa acknowledged the Stripe event whose applying wrote it (None when no Stripe
    # event did): its first delivery measures Stripe's 200 to the provider's.
    stripe_received_at: Mapped[datetime | None]

    provider: Mapped[Provider] = relationship()
    endpoint: Mapped[WebhookEndpoint | None] = relationship()
    order: Mapped[Order | None] = relationship()
    attempt_log: Mapped[list["DeliveryAttempt"]] = relationship(
        back_populates="notification", order_by="DeliveryAttempt.id"
    )

    @hybrid_property
    def retrying(self) -> bool:
        """Pending after an attempt failed since it was last sent: a retry waits its time."""
        return self.status == NotificationStatus.PENDING and self.attempts > self.schedule_start

    @retrying.inplace.expression
    @classmethod
    def _retrying_expression(cls):
        return sa.and_(cls.status == NotificationStatus.PENDING, cls.attempts > cls.schedule_start)


# The delivery log's word for an attempt whose worker (or database) stopped before the
# endpoint's answer was recorded: the endpoint may have received the notification.
UNRECORDED = "Sent, result not recorded (the worker or the database stopped mid-attempt)"


class DeliveryAttempt(db.Model):
    """One HTTP attempt to deliver a notification, kept for the delivery log.

    Written when the attempt begins, with neither a status nor an error; the answer (or
    the failure) is recorded when it ends.
    """

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[str] = mapped_column(sa.ForeignKey("notifications.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    url: Mapped[str] = mapped_column(sa.String(2048))
    request_body: Mapped[str] = mapped_column(sa.Text)
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    latency_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(500))

    notification: Mapped[Notification] = relationship(back_populates="attempt_log")

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300

    @property
    def note(self) -> str:
        """The log's error column: the error, or why the attempt has no answer."""
        if self.response_status is not None or self.error is not None:
            return self.error or ""
        lease = self.notification.lease_until
        if lease is not None and lease > utcnow():
            return "Sending; no answer yet"
        return UNRECORDED


class AuditEntry(db.Model):
    """One change someone made, as the audit log shows it. Written once, never changed."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[ActorKind] = mapped_column(enum_column(ActorKind))
    # The admin's e-mail, the API key's prefix, or "cli".
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[str] = mapped_column(sa.String(255))
    # Short JSON: what changed, never a secret.
    detail: Mapped[str] = mapped_column(sa.Text, default="{}")


# On PostgreSQL the database refuses to change an entry too (TRUNCATE stays possible for
# an operator who means it); migration 0008 creates the same trigger.
AUDIT_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entries_are_final() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are never updated or deleted';
END;
$$ LANGUAGE plpgsql
"""
AUDIT_TRIGGER = """
CREATE TRIGGER audit_entries_are_final BEFORE UPDATE OR DELETE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_are_final()
"""
for _statement in (AUDIT_TRIGGER_FUNCTION, AUDIT_TRIGGER):
    sa.event.listen(
        AuditEntry.__table__,
        "after_create",
        sa.DDL(_statement).execute_if(dialect="postgresql"),
    )


@sa.event.listens_for(AuditEntry, "before_update")
@sa.event.listens_for(AuditEntry, "before_delete")
def _audit_entries_are_final(_mapper, _connection, entry: AuditEntry) -> None:
    raise PermissionError(f"Audit entry {entry.id} cannot be changed or deleted")
