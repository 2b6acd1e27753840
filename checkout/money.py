"""Money: Decimal at the edges, integer minor units plus an ISO currency inside."""

from decimal import Decimal, InvalidOperation

# ISO 4217 exponents, as Stripe charges them (https://docs.stripe.com/currencies).
EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "usd",
            "eur",
            "gbp",
            "cad",
            "aud",
            "nzd",
            "chf",
            "sek",
            "nok",
            "dkk",
            "pln",
            "czk",
            "sgd",
            "hkd",
            "mxn",
            "brl",
            "inr",
            "zar",
        ],
        2,
    ),
    **dict.fromkeys(["jpy", "krw", "vnd", "clp"], 0),
    **dict.fromkeys(["kwd", "bhd", "jod", "omr"], 3),
}

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩"}

# Stripe refuses amounts with more than eight digits in minor units.
MAX_MINOR = 99_999_999

# Stripe's smallest charge, in minor units, for the currencies above that its table lists
# (docs.stripe.com/currencies, "Minimum and maximum charge amounts"). Stripe applies the
# minimum of the account's settlement currency: ZAR, KRW, VND, CLP, KWD, BHD, JOD and OMR
# have no row of their own, and are only checked by Stripe after conversion.
MINIMUM_CHARGE_MINOR: dict[str, int] = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "chf": 50,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
    "pln": 200,
    "czk": 1500,
    "sgd": 50,
    "hkd": 400,
    "mxn": 1000,
    "brl": 50,
    "inr": 50,
    "jpy": 50,
}


class AmountError(ValueError):
    """An amount that cannot be charged: not a number, not positive, too precise or too big."""


def is_supported(currency: str) -> bool:
    """Whether Kassa can charge in this currency."""
    return currency in EXPONENTS


def exponent(currency: str) -> int:
    """Digits after the decimal point for this currency."""
    return EXPONENTS[currency]


def to_minor(amount: Decimal | int, currency: str) -> int:
    """Convert a major-unit amount to integer minor units, refusing anything inexact."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise AmountError("Amount must be a number")
    value = Decimal(amount)
    if not value.is_finite():
        raise AmountError("Amount must be a finite number")
    if value <= 0:
        raise AmountError("Amount must be greater than zero")
    ceiling = f"Amount cannot exceed {format_money(MAX_MINOR, currency)}"
    if value.adjusted() > 12:
        raise AmountError(ceiling)
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        digits = exponent(currency)
        raise AmountError(
            f"Amount has more than {digits} decimal places for {currency.upper()}"
            if digits
            else f"Amount must be a whole number for {currency.upper()}"
        )
    minor = int(scaled)
    if minor > MAX_MINOR:
        raise AmountError(ceiling)
    return minor


def check_minimum_charge(minor: int, currency: str) -> None:
    """Raise AmountError for an amount below the smallest charge Stripe makes in the currency."""
    minimum = MINIMUM_CHARGE_MINOR.get(currency)
    if minimum is not None and minor < minimum:
        raise AmountError(
            f"Amount is below Stripe's minimum charge of {format_money(minimum, currency)}"
        )


def parse(text: str, currency: str) -> int:
    """Parse a typed amount such as '5' or '12.50' into minor units."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise AmountError("Amount must be a number") from None
    return to_minor(value, currency)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units back to an exact Decimal with the currency's number of places."""
    digits = exponent(currency)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(minor: int, currency: str) -> str:
    """Human form: '$5.00', '¥500', '1.250 KWD'."""
    digits = exponent(currency)
    number = f"{to_decimal(minor, currency):,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"
