"""The fixed sets of values models store: statuses, modes, scopes, kinds.

Nothing here imports from checkout, so any module may use them; `checkout.models`
re-exports them beside the models that store them.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAID = "paid"
    # Stripe received less than the order costs (or another currency); an admin decides.
    UNDERPAID = "underpaid"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_LOST = "dispute_lost"
    # Left unpaid for ORDER_EXPIRY_SECONDS; a payment Stripe still reports is recorded.
    EXPIRED = "expired"


class PaymentMode(StrEnum):
    CASHAPP = "cashapp"
    BUY_BUTTON = "stripe_buy_button"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ApiScope(StrEnum):
    """What an API key may do; a key has one or more."""

    ORDERS_WRITE = "orders:write"
    ORDERS_READ = "orders:read"
    LINKS_WRITE = "links:write"
    LINKS_READ = "links:read"
    REFUNDS_WRITE = "refunds:write"
    WEBHOOKS_WRITE = "webhooks:write"
    WEBHOOKS_READ = "webhooks:read"


ALL_SCOPES = " ".join(scope.value for scope in ApiScope)


class SignatureFormat(StrEnum):
    """What a provider's signed requests sign (checkout.api_access)."""

    # t=<unix time>,v1=<HMAC of "t.METHOD.path?query.body">: bound to its request, 5 minutes
    # long, used once.
    TIMESTAMPED = "timestamped"
    # The inbound-transaction guide's HMAC of the body alone, for providers that chose it:
    # replayable, and the same for every GET.
    BODY = "body"


class ActorKind(StrEnum):
    """Who made a change the audit log records."""

    ADMIN = "admin"
    API_KEY = "api-key"
    CLI = "cli"
    SYSTEM = "system"


class ProviderEvent(StrEnum):
    """What a notification tells a provider (checkout.notifications); orders.py decides which
    change sends which."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_UNDERPAID = "payment_underpaid"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CANCELED = "payment_canceled"
    PAYMENT_REFUNDED = "payment_refunded"
    REFUND_FAILED = "payment_refund_failed"
    PAYMENT_DISPUTED = "payment_disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    ORDER_EXPIRED = "order_expired"
    TEST = "test"


class RefundReason(StrEnum):
    """Why a refund was made, as Stripe takes it (its refund `reason`)."""

    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


class CollectEmail(StrEnum):
    """Whether a payment link's or a service's checkout asks the customer's e-mail."""

    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


class AfterPayment(StrEnum):
    """What a payment link's page does once paid: show its message, or go to its URL."""

    MESSAGE = "message"
    REDIRECT = "redirect"
