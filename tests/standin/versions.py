"""The API version rules Kassa relies on, enforced the way Stripe enforces them.

localstripe answers every request the same whatever `Stripe-Version` says; Stripe does not.
Each rule here is a parameter an API version removed: from that version on, sending it is
a 400 in Stripe's error shape, and earlier versions keep accepting it. A request without
`Stripe-Version` is read at the account's default version, as Stripe does.
"""

import re
from dataclasses import dataclass
from datetime import date

from aiohttp import web
from localstripe import server
from standin import contract

# The stand-in account's default API version (the one localstripe's events carry).
ACCOUNT_DEFAULT_VERSION = "2024-06-20"
VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$")


@dataclass(frozen=True)
class Removed:
    """A request parameter refused from an API version on."""

    since: str  # the first version's date
    method: str
    path: re.Pattern
    param: str
    code: str
    message: str


RULES = [
    # Stripe changelog, endive 2026-09-30: "Removes the payment method types parameter
    # from Payment Intents and Setup Intents" (create, update and confirm).
    Removed(
        since="2026-09-30",
        method="POST",
        path=re.compile(r"^/v1/payment_intents(/[^/]+(/confirm)?)?$"),
        param="payment_method_types",
        code="payment_method_types_no_longer_supported",
        message="The payment_method_types parameter is no longer supported from API "
        "version 2026-09-30: use allowed_payment_method_types to limit the payment "
        "methods, or dynamic payment methods.",
    ),
]


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _error(message: str, **fields) -> web.Response:
    error = {"type": "invalid_request_error", **fields, "message": message}
    return web.json_response({"error": error}, status=400)


@web.middleware
async def _enforce(request: web.Request, handler):
    if request.path.startswith(contract.NOT_API):
        return await handler(request)
    version = request.headers.get("Stripe-Version") or ACCOUNT_DEFAULT_VERSION
    match = VERSION.match(version)
    if match is None or not _is_date(match[1]):
        return _error(f"Invalid Stripe API version: {version}")
    rules = [
        rule
        for rule in RULES
        if rule.method == request.method
        and rule.path.match(request.path)
        and match[1] >= rule.since
    ]
    if rules:
        query, form = request.query.items(), (await request.post()).items()
        sent = {**contract.unflatten(query), **contract.unflatten(form)}
        for rule in rules:
            if rule.param in sent:
                return _error(rule.message, code=rule.code, param=rule.param)
    return await handler(request)


server.app.middlewares.append(_enforce)
