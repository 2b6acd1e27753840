"""Provider API: discount codes (issue 21), with the links scopes (they sell with links)."""

from checkout import audit, discounts, schemas, shapes
from checkout.api import bodies, queries
from checkout.api.common import (
    ApiError,
    answer,
    authenticated_key,
    bp,
    json_body,
    page_start,
    parse,
    parse_query,
)
from checkout.discount_models import DiscountCode
from checkout.models import ApiScope, Provider


@bp.post("/discount-codes")
def create_discount_code():
    """Create one of the provider's discount codes."""
    body = json_body()
    key = authenticated_key(ApiScope.LINKS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.CreateDiscountCode, body)
    targets = sent.applies_to or bodies.DiscountTargets()
    row = discounts.create_code(
        key.provider,
        discounts.DiscountFields(
            code=sent.code,
            percent_off=sent.percent_off,
            amount_off=sent.amount_off,
            currency=sent.currency,
            starts_at=sent.starts_at,
            expires_at=sent.expires_at,
            max_redemptions=sent.max_redemptions,
            link_ids=targets.links or [],
            service_ids=targets.services or [],
            active=True if sent.active is None else sent.active,
        ),
        actor=audit.api_key(key.prefix),
    )
    return answer(_code_json(row), 201)


@bp.get("/discount-codes")
def list_discount_codes():
    """The provider's discount codes, newest first."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    asked = parse_query(queries.ListDiscountCodes)
    after = page_start(
        asked.starting_after,
        lambda code_id: _own_code(provider, code_id),
        "one of your discount code ids",
    )
    rows = discounts.provider_codes(provider.id, after=after, limit=asked.limit + 1)
    page = rows[: asked.limit]
    redeemed = discounts.times_redeemed_of([row.id for row in page])
    return answer(
        shapes.DiscountCodeList(
            data=[schemas.discount_code(row, redeemed[row.id]) for row in page],
            has_more=len(rows) > asked.limit,
        )
    )


@bp.get("/discount-codes/<code_id>")
def get_discount_code(code_id: str):
    """One of the provider's discount codes, with its redemptions."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    parse_query(queries.NoQuery)
    return answer(_code_json(_found(provider, code_id)))


@bp.patch("/discount-codes/<code_id>")
def update_discount_code(code_id: str):
    """Change some of a discount code's settings; those not sent keep their values."""
    key = authenticated_key(ApiScope.LINKS_WRITE)
    body = json_body()
    parse_query(queries.NoQuery)
    sent = parse(bodies.UpdateDiscountCode, body)
    row = _found(key.provider, code_id)
    discounts.update_code(row, _patched(row, sent), actor=audit.api_key(key.prefix))
    return answer(_code_json(row))


def _own_code(provider: Provider, code_id: str) -> DiscountCode | None:
    row = discounts.find_code(code_id)
    return row if row is not None and row.provider_id == provider.id else None


def _found(provider: Provider, code_id: str) -> DiscountCode:
    row = _own_code(provider, code_id)
    if row is None:
        raise ApiError("Discount code not found", 404, "not_found")
    return row


def _patched(row: DiscountCode, sent: bodies.UpdateDiscountCode) -> discounts.DiscountFields:
    """The code's settings with the sent ones in their place: percentOff or amountOff
    switches the kind of discount (amountOff keeps the code's currency unless one is sent)."""
    fields = discounts.fields_of(row)
    if sent.sent("code") and sent.code is not None:
        fields.code = sent.code
    if sent.percent_off is not None:
        fields.percent_off, fields.amount_off, fields.currency = sent.percent_off, None, None
    if sent.amount_off is not None:
        fields.percent_off, fields.amount_off = None, sent.amount_off
        fields.currency = sent.currency or row.currency
    elif sent.currency is not None:
        fields.currency = sent.currency
    for name in ("starts_at", "expires_at", "max_redemptions"):
        if sent.sent(name):
            setattr(fields, name, getattr(sent, name))
    if sent.applies_to is not None:
        if sent.applies_to.links is not None:
            fields.link_ids = sent.applies_to.links
        if sent.applies_to.services is not None:
            fields.service_ids = sent.applies_to.services
    if sent.active is not None:
        fields.active = sent.active
    return fields


def _code_json(row: DiscountCode) -> shapes.DiscountCode:
    return schemas.discount_code(row, discounts.times_redeemed(row.id))
