"""Checkout Sessions and Payment Links, which localstripe lacks, in the shapes Stripe documents.

Kassa reads them (Stripe's API reference; examples in stripe/openapi `fixtures3.json`):

  GET /v1/checkout/sessions/{id}    `expand[]=line_items` adds `line_items`, a list object
  GET /v1/checkout/sessions         `payment_link`, `status`, `created`, `limit`,
                                    `starting_after`; newest first, with `has_more`
  GET /v1/payment_links/{id}

Tests play Stripe's dashboard and a customer through control routes (JSON bodies, the
same secret key as the API):

  POST /_kassa/payment_links             {"unit_amount", "currency", "active", "product"}
  POST /_kassa/checkout_sessions         a customer finished Stripe's page:
      {"payment_link", "client_reference_id", "quantity", "unit_amount", "amount_discount",
       "amount_tax", "amount_total", "currency", "payment_status", "status",
       "line_items": [{"quantity", "unit_amount"}], "created", "email",
       "custom_fields": [{"key", "label", "type", "value", "options"}]}; unit_amount and
       currency default to the Payment Link's, email (the customer's, in customer_details)
       to customer@example.com. As Stripe computes it, amount_total is amount_subtotal less
       amount_discount (a promotion code the customer entered) plus amount_tax, and
       total_details carries both; an amount_total sent must agree (400 otherwise). Each
       custom field comes back in Stripe's shape (`label.custom`, the answer under its
       type's `value`)
  POST /_kassa/checkout_sessions/{id}    {"payment_status": …, "status": …}, e.g. an
                                         async payment that succeeded later

Each answers the object as the API would (a session with its line items). Unknown query
parameters are refused as Stripe refuses them (400 `parameter_unknown`).
"""

import itertools
import secrets
import time

from aiohttp import web
from localstripe.errors import UserError
from localstripe.server import app, json_response, unflatten_data

PAYMENT_LINKS: dict[str, dict] = {}
SESSIONS: dict[str, dict] = {}
LINE_ITEMS: dict[str, list[dict]] = {}
# Stripe orders a list by creation, newest first; ties keep the order of creation.
_SEQUENCE: dict[str, int] = {}
_counter = itertools.count()

PAYMENT_STATUSES = {"paid", "unpaid", "no_payment_required"}
SESSION_STATUSES = {"open", "complete", "expired"}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _missing(kind: str, object_id: str, param: str) -> UserError:
    return UserError(
        404,
        f"No such {kind}: '{object_id}'",
        {"code": "resource_missing", "param": param},
    )


def _bad(message: str, param: str | None = None, code: str = "parameter_invalid") -> UserError:
    contents = {"code": code}
    if param is not None:
        contents["param"] = param
    return UserError(400, message, contents)


def _query(request, allowed: set[str]) -> dict:
    data = unflatten_data(request.query)
    for name in data:
        if name not in allowed:
            raise _bad(f"Received unknown parameter: {name}", name, "parameter_unknown")
    expand = data.get("expand", [])
    if not isinstance(expand, list):
        raise _bad("Invalid array", "expand")
    data["expand"] = expand
    return data


def _int(value, param: str, low: int = 0, high: int = 2**53) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _bad(f"Invalid integer: {value}", param) from None
    if not low <= number <= high:
        raise _bad(f"Invalid integer: {value}", param)
    return number


# Objects


def _price(unit_amount: int, currency: str, product: str) -> dict:
    return {
        "id": _id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": int(time.time()),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product,
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def _line_item(
    quantity: int, unit_amount: int, currency: str, product: str, discount: int = 0, tax: int = 0
) -> dict:
    subtotal = quantity * unit_amount
    return {
        "id": _id("li"),
        "object": "item",
        "amount_discount": discount,
        "amount_subtotal": subtotal,
        "amount_tax": tax,
        "amount_total": subtotal - discount + tax,
        "currency": currency,
        "description": "Kassa test product",
        "price": _price(unit_amount, currency, product),
        "quantity": quantity,
    }


def _payment_link(data: dict) -> dict:
    link_id = data.get("id") or _id("plink")
    currency = data.get("currency", "usd")
    return {
        "id": link_id,
        "object": "payment_link",
        "active": bool(data.get("active", True)),
        "after_completion": {
            "hosted_confirmation": {"custom_message": None},
            "type": "hosted_confirmation",
        },
        "allow_promotion_codes": False,
        "application": None,
        "application_fee_amount": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_address_collection": "auto",
        "consent_collection": None,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer_creation": "if_required",
        "inactive_message": None,
        "invoice_creation": {"enabled": False, "invoice_data": None},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "payment_intent_data": None,
        "payment_method_collection": "always",
        "payment_method_types": None,
        "phone_number_collection": {"enabled": False},
        "restrictions": None,
        "shipping_address_collection": None,
        "shipping_options": [],
        "submit_type": "auto",
        "subscription_data": None,
        "tax_id_collection": {"enabled": False, "required": "never"},
        "transfer_data": None,
        "url": f"https://buy.stripe.com/test_{secrets.token_hex(8)}",
        # Not part of Stripe's object: what the stand-in sells through this link.
        "_unit_amount": _int(data.get("unit_amount", 500), "unit_amount", 0),
        "_product": data.get("product") or _id("prod"),
    }


def _custom_field(given: dict) -> dict:
    """A custom field the customer answered on Stripe's page, as a session shows it."""
    kind = given.get("type", "text")
    if kind not in ("text", "numeric", "dropdown"):
        raise _bad(f"Invalid custom_fields type: {kind}", "custom_fields")
    answer = {"default_value": None, "value": given.get("value")}
    if kind == "dropdown":
        answer["options"] = given.get("options") or [{"label": "One", "value": "one"}]
    else:
        answer.update({"maximum_length": None, "minimum_length": None})
    field = {
        "key": given["key"],
        "label": {"custom": given.get("label", given["key"]), "type": "custom"},
        "optional": bool(given.get("optional", False)),
        "type": kind,
    }
    return {**field, kind: answer}


def _public(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def _session(data: dict) -> dict:
    link_id = data.get("payment_link")
    link = PAYMENT_LINKS.get(link_id) if link_id else None
    if link_id and link is None:
        raise _missing("payment_link", link_id, "payment_link")
    currency = data.get("currency") or (link["currency"] if link else "usd")
    product = link["_product"] if link else _id("prod")
    default_unit = link["_unit_amount"] if link else 500
    items = data.get("line_items") or [
        {"quantity": data.get("quantity", 1), "unit_amount": data.get("unit_amount")}
    ]
    line_items = [
        _line_item(
            _int(item.get("quantity", 1), "quantity", 1, 10**6),
            _int(item.get("unit_amount") or default_unit, "unit_amount"),
            currency,
            product,
        )
        for item in items
    ]
    subtotal = sum(item["amount_subtotal"] for item in line_items)
    discount = _int(data.get("amount_discount", 0), "amount_discount", 0, subtotal)
    tax = _int(data.get("amount_tax", 0), "amount_tax")
    total = subtotal - discount + tax
    if "amount_total" in data and _int(data["amount_total"], "amount_total") != total:
        raise _bad("amount_total is amount_subtotal - amount_discount + amount_tax", "amount_total")
    if line_items:  # Stripe spreads them over the line items; one carries them here
        first = line_items[0]
        first["amount_discount"], first["amount_tax"] = discount, tax
        first["amount_total"] = first["amount_subtotal"] - discount + tax
    payment_status = data.get("payment_status", "paid")
    status = data.get("status", "complete")
    if payment_status not in PAYMENT_STATUSES:
        raise _bad(f"Invalid payment_status: {payment_status}", "payment_status")
    if status not in SESSION_STATUSES:
        raise _bad(f"Invalid status: {status}", "status")
    created = _int(data.get("created", int(time.time())), "created")
    session_id = _id("cs_test")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": False,
        "amount_subtotal": subtotal,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": "auto",
        "cancel_url": None,
        "client_reference_id": data.get("client_reference_id"),
        "client_secret": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "custom_fields": [_custom_field(field) for field in data.get("custom_fields") or []],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": {
            "address": None,
            "email": data.get("email", "customer@example.com"),
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": None,
        "discounts": [{"coupon": None, "promotion_code": _id("promo")}] if discount else [],
        "expires_at": created + 86400,
        "invoice": None,
        "invoice_creation": {"enabled": False, "invoice_data": None},
        "livemode": False,
        "locale": "auto",
        "metadata": {},
        "mode": "payment",
        "payment_intent": None if payment_status == "no_payment_required" else _id("pi"),
        "payment_link": link_id,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": status,
        "submit_type": "auto",
        "subscription": None,
        "success_url": "https://stripe.com",
        "total_details": {
            "amount_discount": discount,
            "amount_shipping": 0,
            "amount_tax": tax,
        },
        "ui_mode": "hosted",
        "url": None if status != "open" else f"https://checkout.stripe.com/c/pay/{session_id}",
    }
    SESSIONS[session_id] = session
    LINE_ITEMS[session_id] = line_items
    _SEQUENCE[session_id] = next(_counter)
    return session


def _with_line_items(session: dict, expand: list[str], prefix: str = "") -> dict:
    answer = dict(session)
    if f"{prefix}line_items" in expand:
        answer["line_items"] = {
            "object": "list",
            "data": LINE_ITEMS[session["id"]],
            "has_more": False,
            "url": f"/v1/checkout/sessions/{session['id']}/line_items",
        }
    return answer


# The API


async def retrieve_session(request):
    query = _query(request, {"expand"})
    session = SESSIONS.get(request.match_info["id"])
    if session is None:
        raise _missing("checkout.session", request.match_info["id"], "session")
    return json_response(_with_line_items(session, query["expand"]))


def _created_filter(value):
    if isinstance(value, dict):
        bounds = {key: _int(bound, f"created[{key}]") for key, bound in value.items()}
        unknown = set(bounds) - {"gt", "gte", "lt", "lte"}
        if unknown:
            name = f"created[{sorted(unknown)[0]}]"
            raise _bad(f"Received unknown parameter: {name}", name, "parameter_unknown")
    else:
        bounds = {"gte": _int(value, "created"), "lte": _int(value, "created")}
    checks = {
        "gt": lambda created, bound: created > bound,
        "gte": lambda created, bound: created >= bound,
        "lt": lambda created, bound: created < bound,
        "lte": lambda created, bound: created <= bound,
    }
    return lambda created: all(checks[key](created, bound) for key, bound in bounds.items())


async def list_sessions(request):
    query = _query(
        request,
        {"expand", "payment_link", "status", "created", "limit", "starting_after"},
    )
    limit = _int(query.get("limit", 10), "limit", 1, 100)
    if "status" in query and query["status"] not in SESSION_STATUSES:
        raise _bad(f"Invalid status: {query['status']}", "status")
    created = _created_filter(query["created"]) if "created" in query else (lambda _: True)
    matching = [
        session
        for session in SESSIONS.values()
        if ("payment_link" not in query or session["payment_link"] == query["payment_link"])
        and ("status" not in query or session["status"] == query["status"])
        and created(session["created"])
    ]
    matching.sort(key=lambda session: (session["created"], _SEQUENCE[session["id"]]))
    matching.reverse()
    after = query.get("starting_after")
    if after is not None:
        if after not in SESSIONS:
            raise _missing("checkout.session", after, "starting_after")
        ids = [session["id"] for session in matching]
        matching = matching[ids.index(after) + 1 :] if after in ids else []
    page = matching[:limit]
    return json_response(
        {
            "object": "list",
            "data": [_with_line_items(s, query["expand"], "data.") for s in page],
            "has_more": len(matching) > limit,
            "url": "/v1/checkout/sessions",
        }
    )


async def retrieve_payment_link(request):
    _query(request, {"expand"})
    link = PAYMENT_LINKS.get(request.match_info["id"])
    if link is None:
        raise _missing("payment_link", request.match_info["id"], "payment_link")
    return json_response(_public(link))


# Test control


async def _body(request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        raise _bad("Send a JSON object") from None
    if not isinstance(data, dict):
        raise _bad("Send a JSON object")
    return data


async def create_payment_link(request):
    link = _payment_link(await _body(request))
    PAYMENT_LINKS[link["id"]] = link
    return json_response(_public(link))


async def create_session(request):
    session = _session(await _body(request))
    return json_response(_with_line_items(session, ["line_items"]))


async def update_session(request):
    session = SESSIONS.get(request.match_info["id"])
    if session is None:
        raise _missing("checkout.session", request.match_info["id"], "session")
    data = await _body(request)
    if data.get("payment_status", session["payment_status"]) not in PAYMENT_STATUSES:
        raise _bad("Invalid payment_status", "payment_status")
    if data.get("status", session["status"]) not in SESSION_STATUSES:
        raise _bad("Invalid status", "status")
    for key in ("payment_status", "status"):
        if key in data:
            session[key] = data[key]
    return json_response(_with_line_items(session, ["line_items"]))


app.router.add_routes(
    [
        web.get("/v1/checkout/sessions/{id}", retrieve_session),
        web.get("/v1/checkout/sessions", list_sessions),
        web.get("/v1/payment_links/{id}", retrieve_payment_link),
        web.post("/_kassa/payment_links", create_payment_link),
        web.post("/_kassa/checkout_sessions", create_session),
        web.post("/_kassa/checkout_sessions/{id}", update_session),
    ]
)
