"""Money: Decimal at the edges, integer minor units plus an ISO currency inside."""

import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, format_currency, parse_decimal
from flask import has_request_context
from flask_babel import get_locale

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
    # Read the digits, not Decimal arithmetic: that rounds to 28 significant digits, which
    # once turned 4.99…(32 nines) into 5.00. Past its trailing zeros, a value has exactly as
    # many places as its exponent says; with the ceiling above that leaves at most 16 digits.
    _, digit_tuple, power = value.as_tuple()
    written = "".join(map(str, digit_tuple))
    digits = written.rstrip("0")
    places = -(power + len(written) - len(digits))
    if places > exponent(currency):
        raise AmountError(
            f"Amount has more than {exponent(currency)} decimal places for {currency.upper()}"
            if exponent(currency)
            else f"Amount must be a whole number for {currency.upper()}"
        )
    minor = int(digits) * 10 ** (exponent(currency) - places)
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


# A typed amount in the one form every locale reads the same: digits, at most one point.
PLAIN_AMOUNT = re.compile(r"\d+(\.\d+)?")

ENGLISH = Locale("en")

CODE_BESIDE_DIGIT = re.compile(r"(?<=[A-Z]{3})(?=\d)|(?<=\d)(?=[A-Z]{3})")


def read_typed(text: str, locale: Locale | str | None) -> Decimal:
    """Read an amount a person typed: '12.50' always, and the locale's own form ('12,50' or
    '1.234,50' in German); grouping that does not fit the locale ('1,234,5') is refused."""
    text = (text or "").strip()
    if PLAIN_AMOUNT.fullmatch(text):
        return Decimal(text)
    try:
        value = parse_decimal(text, locale=locale or ENGLISH, strict=True)
    except (NumberFormatError, UnknownLocaleError, ValueError):
        raise AmountError("Amount must be a number, such as 12.50") from None
    if not value.is_finite():
        raise AmountError("Amount must be a finite number")
    if "e" in text.lower():
        raise AmountError("Amount must be a number, such as 12.50")
    return value


def viewer_locale() -> Locale:
    """The locale amounts are shown in: the request's (Flask-Babel), English elsewhere (the
    CLI, workers)."""
    return (get_locale() if has_request_context() else None) or ENGLISH


def number_symbols(locale: Locale) -> tuple[str, str]:
    """The locale's decimal and group separators, for a page's script to format amounts."""
    symbols = locale.number_symbols.get(locale.default_numbering_system) or {}
    return symbols.get("decimal", "."), symbols.get("group", ",")


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units back to an exact Decimal with the currency's number of places."""
    digits = exponent(currency)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(minor: int, currency: str) -> str:
    """Human form for stored text, logs and messages, the same in every locale: '$5.00',
    '¥500', '1.250 KWD'. Pages show display() instead."""
    digits = exponent(currency)
    number = f"{to_decimal(minor, currency):,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def format_money_for(minor: int, currency: str, locale: Locale | str) -> str:
    """Human form in a locale, from the exact amount: '12,50 €' (de), '￥1,500' (ja).

    Babel shows as many decimals as CLDR gives the currency, which for every currency in
    EXPONENTS is its exponent (a test checks), so nothing is rounded or padded.
    """
    text = format_currency(to_decimal(minor, currency), currency.upper(), locale=locale)
    # CLDR's currency spacing, which Babel leaves out: 'KWD 1.250', not 'KWD1.250'.
    return CODE_BESIDE_DIGIT.sub("\xa0", text)


def display(minor: int, currency: str) -> str:
    """Human form for the person viewing the page, in their locale."""
    return format_money_for(minor, currency, viewer_locale())


def minor_units_text(minor: int, currency: str) -> str:
    """An amount in a currency Kassa has no exponent for (Stripe may report a payment in
    one), as its minor units came: '1500 XYZ (minor units)'."""
    return f"{minor} {currency.upper()} (minor units)"


def format_reported(minor: int, currency: str) -> str:
    """format_money() of an amount in any currency Stripe reports, known or not."""
    if not is_supported(currency):
        return minor_units_text(minor, currency)
    return format_money(minor, currency)


def display_reported(minor: int, currency: str) -> str:
    """display() of an amount in any currency Stripe reports, known or not."""
    if not is_supported(currency):
        return minor_units_text(minor, currency)
    return display(minor, currency)
