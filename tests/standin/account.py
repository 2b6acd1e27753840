"""The account and its webhook endpoints, which `flask --app app stripe check` asks about.

`GET /v1/account` and `GET /v1/webhook_endpoints` (paged: `limit`, `starting_after`)
answer in the shapes Stripe documents (stripe/openapi fixtures3.json). Tests set them:

- `POST /_kassa/account` `{"capabilities": {...}, ...}`: the default account with these
  top-level fields replaced.
- `POST /_kassa/webhook_endpoints` `{"data": [{"url": ..., "enabled_events": [...],
  "status": "enabled", "livemode": false}, ...]}`: the endpoints, listed in this order, each
  completed with Stripe's other fields.
"""

import copy
import secrets
import time

from aiohttp import web
from localstripe import server
from standin import control

DEFAULT_ACCOUNT = {
    "id": "acct_1KassaStandIn0001",
    "object": "account",
    "business_profile": {
        "mcc": None,
        "name": "Kassa stand-in",
        "product_description": None,
        "support_email": None,
        "support_phone": None,
        "support_url": None,
        "url": None,
    },
    "business_type": "company",
    "capabilities": {
        "card_payments": "active",
        "cashapp_payments": "active",
        "transfers": "active",
    },
    "charges_enabled": True,
    "controller": {"type": "account"},
    "country": "US",
    "created": 1234567890,
    "default_currency": "usd",
    "details_submitted": True,
    "email": "site@example.com",
    "external_accounts": {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/accounts/acct_1KassaStandIn0001/external_accounts",
    },
    "metadata": {},
    "payouts_enabled": True,
    "requirements": {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    },
    "settings": {"dashboard": {"display_name": "Kassa stand-in", "timezone": "Etc/UTC"}},
    "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
    "type": "standard",
}

ACCOUNT = copy.deepcopy(DEFAULT_ACCOUNT)
WEBHOOK_ENDPOINTS: list[dict] = []
LIMIT_MAX = 100


def _error(status: int, message: str, **fields) -> web.Response:
    error = {"type": "invalid_request_error", **fields, "message": message}
    return web.json_response({"error": error}, status=status)


async def _retrieve_account(request: web.Request) -> web.Response:
    return web.json_response(ACCOUNT)


async def _list_webhook_endpoints(request: web.Request) -> web.Response:
    limit = request.query.get("limit", "10")
    if not limit.isdigit() or not 1 <= int(limit) <= LIMIT_MAX:
        return _error(400, f"Invalid limit: must be between 1 and {LIMIT_MAX}", param="limit")
    endpoints = WEBHOOK_ENDPOINTS
    after = request.query.get("starting_after")
    if after is not None:
        ids = [endpoint["id"] for endpoint in endpoints]
        if after not in ids:
            return _error(
                400,
                f"No such webhook endpoint: '{after}'",
                code="resource_missing",
                param="starting_after",
            )
        endpoints = endpoints[ids.index(after) + 1 :]
    page = endpoints[: int(limit)]
    return web.json_response(
        {
            "object": "list",
            "data": page,
            "has_more": len(endpoints) > len(page),
            "url": "/v1/webhook_endpoints",
        }
    )


def _webhook_endpoint(fields: dict) -> dict:
    if not isinstance(fields.get("url"), str):
        raise control.bad_request("each webhook endpoint needs a url")
    events = fields.get("enabled_events", ["*"])
    if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
        raise control.bad_request("enabled_events must be a list of event types")
    return {
        "id": f"we_{secrets.token_hex(12)}",
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": int(time.time()),
        "description": None,
        "enabled_events": events,
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        **fields,
    }


async def _set_account(request: web.Request) -> web.Response:
    fields = await control.read_json(request)
    if not isinstance(fields.get("capabilities", {}), dict):
        raise control.bad_request("capabilities must be an object")
    ACCOUNT.clear()
    ACCOUNT.update(copy.deepcopy(DEFAULT_ACCOUNT), **fields)
    return web.json_response(ACCOUNT)


async def _set_webhook_endpoints(request: web.Request) -> web.Response:
    data = (await control.read_json(request)).get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise control.bad_request('send {"data": [webhook endpoint, ...]}')
    WEBHOOK_ENDPOINTS[:] = [_webhook_endpoint(fields) for fields in data]
    return web.json_response({"data": WEBHOOK_ENDPOINTS})


server.app.router.add_get("/v1/account", _retrieve_account)
server.app.router.add_get("/v1/webhook_endpoints", _list_webhook_endpoints)
control.add_route("POST", "/_kassa/account", _set_account)
control.add_route("POST", "/_kassa/webhook_endpoints", _set_webhook_endpoints)
