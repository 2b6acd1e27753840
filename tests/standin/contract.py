"""Every request the stand-in receives, as it arrived, for the suite's contract check.

`GET /_kassa/requests` lists them (oldest first) and `DELETE /_kassa/requests` forgets
them. Each holds the method, the path, the query and the form body unflattened the way
Stripe reads them (`metadata[orderId]=…` → `{"metadata": {"orderId": …}}`,
`expand[0]=…` → `{"expand": […]}`), the `Stripe-Version` and `Idempotency-Key` headers,
the API key, and the status answered. tests/stripe_contract.py checks them.
"""

import re

from aiohttp import web
from localstripe import server
from standin import control

REQUESTS: list[dict] = []
# The stand-in's own routes and localstripe's Stripe.js are not Stripe API requests.
NOT_API = (control.PREFIX, "/_config/", "/js.stripe.com/")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def unflatten(pairs) -> dict:
    """Form pairs (`a[b][0]=x`) as nested dicts and lists, as Stripe reads them."""
    tree: dict = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            tree[key] = value
            continue
        *parents, last = [match[1], *_SEGMENT.findall(match[2])]
        node = tree
        for name in parents:
            node = node.setdefault(name, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):  # else a scalar is there already: the pair is malformed
            node[str(len(node)) if last == "" else last] = value
    return _lists(tree)


def _lists(node):
    """Dicts keyed 0..n-1 become lists (`expand[0]`, `items[1][price]`)."""
    if not isinstance(node, dict):
        return node
    node = {key: _lists(value) for key, value in node.items()}
    if node and sorted(node) == sorted(str(index) for index in range(len(node))):
        return [node[str(index)] for index in range(len(node))]
    return node


def _api_key(request: web.Request) -> str | None:
    kind, _, value = request.headers.get("Authorization", "").partition(" ")
    return value if kind == "Bearer" else None


@web.middleware
async def _record(request: web.Request, handler):
    if request.path.startswith(NOT_API):
        return await handler(request)
    body = {}
    if request.content_type == "application/x-www-form-urlencoded":
        body = unflatten((await request.post()).items())
    entry = {
        "method": request.method,
        "path": request.path,
        "query": unflatten(request.query.items()),
        "body": body,
        "stripeVersion": request.headers.get("Stripe-Version"),
        "idempotencyKey": request.headers.get("Idempotency-Key"),
        "apiKey": _api_key(request),
        "status": None,
    }
    REQUESTS.append(entry)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        entry["status"] = error.status
        raise
    entry["status"] = response.status
    return response


async def _list(request: web.Request) -> web.Response:
    return web.json_response(REQUESTS)


async def _forget(request: web.Request) -> web.Response:
    REQUESTS.clear()
    return web.json_response({"deleted": True})


server.app.middlewares.insert(0, _record)
control.add_route("GET", "/_kassa/requests", _list)
control.add_route("DELETE", "/_kassa/requests", _forget)
