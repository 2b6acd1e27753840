"""Customer-chosen amounts (issue 21): a payment link whose customer enters the amount,
from its minAmount to its maxAmount, in the service's currency.

Such a link sells a quantity of 1 (the amount is the order's unit price and its amount)
and is not offered in Buy Button mode, where Stripe's Payment Link charges its own price.
The link's settings are checked here for payment_links; the customer's amount is read by
opening, which prices every order.
"""

from dataclasses import dataclass
from decimal import Decimal

from checkout import money
from checkout.errors import ValidationError
from checkout.models import PaymentLink, PaymentMode, Provider, Service

BUY_BUTTON_REFUSAL = (
    "Customers cannot choose the amount in Buy Button mode: Stripe's Payment Link charges "
    "its own price. Use a provider in Cash App mode"
)


@dataclass(frozen=True)
class ChosenRange:
    """A link's checked range in minor units; all None for a link with a price."""

    min_minor: int | None = None
    max_minor: int | None = None
    preset_minor: int | None = None


def _minor(name: str, value: Decimal | int, currency: str) -> int:
    try:
        minor = money.to_minor(value, currency)
        money.check_minimum_charge(minor, currency)
    except money.AmountError as error:
        raise ValidationError(name, str(error)) from None
    return minor


def check_range(
    service: Service,
    provider: Provider | None,
    amounts: tuple[object, object, object],
    *,
    quantity: int,
    adjustable_quantity: bool,
) -> ChosenRange:
    """A link's (minAmount, maxAmount, presetAmount) checked, or raise ValidationError naming
    the field: both bounds or neither, exact in the currency, at least Stripe's minimum
    charge, the preset between them; quantity 1 and a Cash App provider."""
    low, high, preset = amounts
    if low is None and high is None:
        if preset is not None:
            raise ValidationError("preset_amount", "Set minAmount and maxAmount first")
        return ChosenRange()
    if low is None or high is None:
        missing = "min_amount" if low is None else "max_amount"
        raise ValidationError(missing, "Give both the smallest and the largest amount")
    if provider is not None and provider.mode is PaymentMode.BUY_BUTTON:
        raise ValidationError("min_amount", BUY_BUTTON_REFUSAL)
    if adjustable_quantity or quantity != 1:
        raise ValidationError(
            "quantity", "A link whose customers choose the amount sells a quantity of 1"
        )
    currency = service.currency
    low_minor = _minor("min_amount", low, currency)
    high_minor = _minor("max_amount", high, currency)
    if high_minor < low_minor:
        raise ValidationError("max_amount", "The largest amount is below the smallest")
    preset_minor = None if preset is None else _minor("preset_amount", preset, currency)
    if preset_minor is not None and not low_minor <= preset_minor <= high_minor:
        raise ValidationError("preset_amount", "The preset amount must be between the two")
    return ChosenRange(low_minor, high_minor, preset_minor)


def chooses_amount(link: PaymentLink) -> bool:
    """Whether the link's customers enter the amount."""
    return link.min_amount_minor is not None and link.max_amount_minor is not None


def range_text(link: PaymentLink) -> str:
    """'$5.00 to $100.00', for messages and pages."""
    currency = link.service.currency
    return (
        f"{money.display(link.min_amount_minor, currency)} to "
        f"{money.display(link.max_amount_minor, currency)}"
    )


def customer_amount(link: PaymentLink, amount: object) -> int:
    """The amount a customer chose on the link's page, in minor units, or raise
    ValidationError naming `amount`: exact in the currency and within the link's range."""
    currency = link.service.currency
    if amount is None or amount == "":
        raise ValidationError("amount", f"Enter an amount from {range_text(link)}")
    try:
        minor = money.to_minor(amount, currency)
    except money.AmountError as error:
        raise ValidationError("amount", str(error)) from None
    if not link.min_amount_minor <= minor <= link.max_amount_minor:
        raise ValidationError("amount", f"Enter an amount from {range_text(link)}")
    return minor


def to_decimal(minor: int | None, link: PaymentLink) -> Decimal | None:
    """A stored bound in major units, for the API and the admin's form."""
    return None if minor is None else money.to_decimal(minor, link.service.currency)
