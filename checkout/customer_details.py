"""What a checkout asks before the customer pays: the custom fields and e-mail of the
payment link (for an order opened by API, of its service) and consent to the seller's
terms; read from the customer's form, checked, and kept with the order.

A payment link's page asks all of it with its Pay button. An order opened by API asks on
its checkout page what the provider did not give when opening it (the custom fields when
it sent none, the e-mail when it sent none) and, when the seller has terms, the consent:
nobody agrees for the customer. While something is asked the page offers no way to pay.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

from checkout import catalog, custom_fields, orders
from checkout.custom_fields import CustomField
from checkout.database import in_transaction
from checkout.enums import CollectEmail
from checkout.errors import ValidationError
from checkout.models import Order, PaymentLink, Provider, Service, utcnow

# The names of the e-mail and consent inputs on customers' forms (custom fields are
# CustomField.input_name).
EMAIL_INPUT = "email"
TERMS_INPUT = "terms"


@dataclass(frozen=True)
class Asked:
    """The questions one form asks: custom fields, the e-mail (off, optional or required)
    and consent to the seller's terms (when `terms_url` is set)."""

    fields: tuple[CustomField, ...] = ()
    email: CollectEmail = CollectEmail.OFF
    terms_url: str | None = None
    privacy_url: str | None = None
    seller: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields) or self.email is not CollectEmail.OFF or bool(self.terms_url)

    @property
    def terms_label(self) -> str:
        return f"I agree to {self.seller or 'the seller'}'s terms"


def _terms(provider: Provider | None) -> dict:
    if provider is None or not provider.terms_url:
        return {}
    return {
        "terms_url": provider.terms_url,
        "privacy_url": provider.privacy_url,
        "seller": provider.public_name,
    }


def of_link(link: PaymentLink) -> Asked:
    """Everything a payment link's page asks with its Pay button."""
    return Asked(
        custom_fields.from_json(link.custom_fields_json),
        link.collect_email,
        **_terms(link.provider),
    )


def _source(order: Order) -> PaymentLink | Service:
    """Whose questions an order's customer answers: its payment link's, else its service's."""
    return order.payment_link or order.service


def still_asked(order: Order) -> Asked:
    """What the order's checkout page asks before the customer may pay: nothing once they
    answered, nor once the order can no longer be paid."""
    if order.details_at is not None or not orders.is_payable(order):
        return Asked()
    source = _source(order)
    unanswered = order.custom_fields_json is None
    return Asked(
        custom_fields.from_json(source.custom_fields_json) if unanswered else (),
        source.collect_email if order.customer_email is None else CollectEmail.OFF,
        **(_terms(order.provider) if order.terms_accepted_at is None else {}),
    )


@dataclass(frozen=True)
class Answers:
    """What a customer's form told: the custom fields' answers (None when none were asked),
    the e-mail, whether they agreed to the terms, and the language of their browser."""

    custom_fields: list[dict] | None = None
    email: str | None = None
    terms_accepted: bool = False
    locale: str | None = None


class DetailsRefused(ValidationError):
    """A customer's answers the questions do not take: each refused input and why."""

    def __init__(self, problems: dict[str, str]):
        name, message = next(iter(problems.items()))
        super().__init__(name, message)
        self.problems = problems


def _email(asked: Asked, form: Mapping[str, str], problems: dict[str, str]) -> str | None:
    if asked.email is CollectEmail.OFF:
        return None
    text = (form.get(EMAIL_INPUT) or "").strip()
    if not text:
        if asked.email is CollectEmail.REQUIRED:
            problems[EMAIL_INPUT] = "Email: this field is required"
        return None
    try:
        return catalog.clean_email(EMAIL_INPUT, text)
    except ValidationError:
        problems[EMAIL_INPUT] = "Email: give an address such as you@example.com"
        return None


def read(asked: Asked, form: Mapping[str, str], locale: str | None) -> Answers:
    """The customer's answers to a form's questions, or raise DetailsRefused naming every
    input refused (a missing required field, an option not offered, a non-number, no
    consent)."""
    problems: dict[str, str] = {}
    kept = []
    for field in asked.fields:
        try:
            value = custom_fields.answer(field, form.get(field.input_name))
        except ValueError as error:
            problems[field.input_name] = str(error)
            continue
        kept.append({"key": field.key, "label": field.label, "value": value})
    email = _email(asked, form, problems)
    if asked.terms_url and not form.get(TERMS_INPUT):
        problems[TERMS_INPUT] = f"Tick the box to agree to {asked.seller or 'the seller'}'s terms"
    if problems:
        raise DetailsRefused(problems)
    return Answers(kept if asked.fields else None, email, bool(asked.terms_url), locale)


def keep(order: Order, answers: Answers) -> None:
    """Write a customer's answers to an order not yet being paid; the caller commits."""
    now = utcnow()
    if answers.custom_fields is not None:
        order.custom_fields_json = json.dumps(answers.custom_fields)
    order.customer_email = answers.email or order.customer_email
    order.customer_locale = answers.locale or order.customer_locale
    if answers.terms_accepted:
        order.terms_accepted_at = now
    order.details_at = now
    agreed = ", agreeing to the seller's terms" if answers.terms_accepted else ""
    orders.note(order, "details", f"The customer answered the checkout's questions{agreed}")


def give(order_id: str, answers: Answers) -> Order | None:
    """Keep a customer's answers from the checkout page, in a transaction of its own, while
    the order still asks them; None for an unknown order."""

    def work() -> Order | None:
        order = orders.lock_order(order_id)
        if order is not None and still_asked(order):
            keep(order, answers)
        return order

    return in_transaction(work)


def from_provider(service: Service, sent_fields: list[dict] | None, email: str | None) -> Answers:
    """What a provider gave when opening an order by API: its service's custom fields
    answered (all of them, when it sent any) and the customer's e-mail; or raise
    ValidationError naming `custom_fields` or `customer_email`."""
    answers = None
    if sent_fields is not None:
        fields = custom_fields.from_json(service.custom_fields_json)
        if not fields and sent_fields:
            raise ValidationError("custom_fields", "the service asks no custom fields")
        answers = custom_fields.from_provider(fields, sent_fields)
    return Answers(answers, catalog.clean_email("customer_email", email))


def keep_provided(order: Order, provided: Answers) -> None:
    """Write what the provider gave to a new order; its checkout page asks the rest."""
    if provided.custom_fields is not None:
        order.custom_fields_json = json.dumps(provided.custom_fields)
    order.customer_email = provided.email


def keep_from_stripe(
    order: Order, fields: tuple[tuple[str, str, str | None], ...], email: str | None
) -> None:
    """What Stripe's Buy Button page asked (a Checkout Session's custom fields, as (key,
    label, value), and its customer's e-mail), kept beside the answers Kassa's own page got;
    the e-mail only when none was given. The caller commits."""
    kept = order.custom_field_values
    known = {item["key"] for item in kept}
    added = [
        {"key": key, "label": label, "value": value}
        for key, label, value in fields
        if key not in known
    ]
    if added:
        order.custom_fields_json = json.dumps(kept + added)
    if email and not order.customer_email:
        order.customer_email = email
