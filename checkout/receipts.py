"""Receipts: the mail a customer with an e-mail gets when their order is paid, and one for
each refund, in the seller's look and the customer's language (the browser's, kept when they
answered the checkout), written through the outbox (checkout.mail) in the transaction of the
change itself: `orders._move` and `orders.settle_refunds` call here.

A sandbox order's mails never leave the machine (mail.queue's `sandbox`).
"""

from datetime import UTC, datetime

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_datetime

from checkout import branding, mail, money, stripe_gateway, urls
from checkout.enums import OrderStatus
from checkout.models import Order

# An order becomes paid for the first time from one of these; paid again after a refund
# fails or a dispute is won, it gets no second receipt.
FIRST_PAID_FROM = frozenset(
    {
        OrderStatus.PENDING,
        OrderStatus.PROCESSING,
        OrderStatus.FAILED,
        OrderStatus.EXPIRED,
        OrderStatus.CANCELED,
        OrderStatus.UNDERPAID,
    }
)

WORDS = {
    "en": {
        "receipt": "Receipt from {seller}: {amount}",
        "refund": "Refund from {seller}: {amount}",
        "thanks": "Thank you for your payment.",
        "refunded": "{seller} refunded {amount} of your payment.",
        "item": "Item",
        "quantity": "Quantity",
        "paid": "Amount paid",
        "discount": "Discount",
        "paid_at": "Paid",
        "refunded_total": "Refunded in all",
        "order": "Order ID",
        "seller": "Seller",
        "contact": "Contact",
        "online": "This receipt online",
        "keep": "Keep this e-mail as your receipt.",
    },
    "de": {
        "receipt": "Beleg von {seller}: {amount}",
        "refund": "Erstattung von {seller}: {amount}",
        "thanks": "Vielen Dank für Ihre Zahlung.",
        "refunded": "{seller} hat {amount} Ihrer Zahlung erstattet.",
        "item": "Artikel",
        "quantity": "Menge",
        "paid": "Bezahlt",
        "discount": "Rabatt",
        "paid_at": "Bezahlt am",
        "refunded_total": "Insgesamt erstattet",
        "order": "Bestellnummer",
        "seller": "Verkäufer",
        "contact": "Kontakt",
        "online": "Dieser Beleg online",
        "keep": "Bewahren Sie diese E-Mail als Beleg auf.",
    },
    "fr": {
        "receipt": "Reçu de {seller} : {amount}",
        "refund": "Remboursement de {seller} : {amount}",
        "thanks": "Merci pour votre paiement.",
        "refunded": "{seller} vous a remboursé {amount}.",
        "item": "Article",
        "quantity": "Quantité",
        "paid": "Montant payé",
        "discount": "Remise",
        "paid_at": "Payé le",
        "refunded_total": "Remboursé au total",
        "order": "Numéro de commande",
        "seller": "Vendeur",
        "contact": "Contact",
        "online": "Ce reçu en ligne",
        "keep": "Conservez cet e-mail comme reçu.",
    },
    "es": {
        "receipt": "Recibo de {seller}: {amount}",
        "refund": "Reembolso de {seller}: {amount}",
        "thanks": "Gracias por su pago.",
        "refunded": "{seller} le ha reembolsado {amount}.",
        "item": "Artículo",
        "quantity": "Cantidad",
        "paid": "Importe pagado",
        "discount": "Descuento",
        "paid_at": "Pagado",
        "refunded_total": "Reembolsado en total",
        "order": "Número de pedido",
        "seller": "Vendedor",
        "contact": "Contacto",
        "online": "Este recibo en línea",
        "keep": "Guarde este correo como recibo.",
    },
}


def order_moved(order: Order, previous: OrderStatus, target: OrderStatus) -> None:
    """The receipt of an order paid for the first time, if its customer gave an e-mail."""
    if target is OrderStatus.PAID and previous in FIRST_PAID_FROM and order.customer_email:
        _queue(order, "receipt", order.paid_amount_minor or order.amount_minor)


def refunded(order: Order, amount_minor: int) -> None:
    """The mail of a refund (whole or partial) of `amount_minor`, if the customer gave an
    e-mail."""
    if amount_minor > 0 and order.customer_email:
        _queue(order, "refund", amount_minor)


def _locale(order: Order) -> Locale:
    try:
        return Locale.parse(order.customer_locale or "en")
    except (ValueError, UnknownLocaleError):
        return Locale("en")


def _money(minor: int, currency: str, locale: Locale) -> str:
    if money.is_supported(currency):
        return money.format_money_for(minor, currency, locale)
    return money.format_reported(minor, currency)


def _when(moment: datetime | None, locale: Locale) -> str | None:
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC)
    return format_datetime(aware, "medium", tzinfo=UTC, locale=locale) + " UTC"


def _queue(order: Order, kind: str, amount_minor: int) -> None:
    locale = _locale(order)
    words = WORDS.get(locale.language, WORDS["en"])
    currency = order.paid_currency or order.currency
    provider = order.provider
    look = branding.in_mail(provider)
    amount = _money(amount_minor, currency, locale)
    discount = order.discount_minor  # a code's, or one Stripe applied on a Buy Button page
    base = urls.base_url() if urls.base_url_is_configured() else None
    mail.queue(
        order.customer_email,
        kind,
        kind=kind,
        sandbox=stripe_gateway.is_sandbox(),
        lang=locale.language,
        words=words,
        subject_line=words[kind].format(seller=look["seller"], amount=amount),
        **look,
        item=order.payment_link.title if order.payment_link else order.service.title,
        quantity=order.quantity,
        amount=amount,
        discount=_money(discount, order.currency, locale) if discount else None,
        refunded_total=_money(order.refunded_amount_minor, currency, locale),
        paid_at=_when(order.paid_at, locale),
        order_id=order.id,
        site=urls.site_of(provider.cancel_url, provider.success_url) if provider else None,
        contact_email=provider.contact_email if provider else None,
        receipt_url=base + f"/checkout?orderId={order.id}" if base else None,
        base_url=base,
    )


def masked_address(order: Order) -> str | None:
    """Where the order's receipt went, as its page may show it: the first character and the
    domain ("a…@example.com"). The page is reachable by anyone holding the order's link, and
    is cached and shared, so the whole address is never on it."""
    address = order.customer_email
    if not address or order.paid_at is None:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}" if local else None
