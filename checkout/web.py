"""What the blueprints share: the HTTP status each domain error answers with, and headers."""

from checkout import (
    accounts,
    api_access,
    notifications,
    orders,
    payment_links,
    payments,
    stripe_events,
    stripe_gateway,
)
from checkout.errors import DomainError, ValidationError

# The one place a domain error becomes an HTTP status.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    ValidationError: 422,
    orders.AmountInvalid: 422,
    orders.AmountRefused: 400,
    orders.PaymentNotConfigured: 400,
    orders.ServiceUnavailable: 409,
    orders.ExternalIdTaken: 409,
    orders.NotUnderpaid: 409,
    stripe_gateway.CashAppUnavailable: 400,
    payment_links.LinkClosed: 410,
    payment_links.LinkBusy: 409,
    payment_links.LinkMisconfigured: 409,
    payments.RefundError: 422,
    stripe_events.AlreadyApplied: 409,
    notifications.NoWebhookUrl: 409,
    accounts.TooManyAttempts: 429,
    api_access.ClientNotAllowed: 403,
    api_access.SignatureInvalid: 401,
    api_access.ScopeMissing: 403,
}

NO_STORE = {"Cache-Control": "no-store"}


def status_for(error: DomainError) -> int:
    """The HTTP status that answers a domain error."""
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    raise LookupError(f"No HTTP status for {type(error).__name__}")
