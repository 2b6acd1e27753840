"""Stripe failing on demand: the next request(s) to an endpoint get an error in Stripe's
shape, and an error Stripe would have saved is replayed for the same idempotency key.

    POST   /_kassa/faults  {"method": "POST", "path": "/v1/payment_intents", "status": 500,
                            "error": {"type": "api_error", "message": "..."}, "times": 1,
                            "replay": true, "delay": 0}
    GET    /_kassa/faults  {"pending": [...], "answered": [{"method", "path", "status",
                            "idempotencyKey", "replayed"}, ...]}
    DELETE /_kassa/faults  forget every fault, answer and saved key

`error` is the body's `error` object (defaults for 429 and 5xx); `times` is how many requests
it answers (1 unless told). Stripe saves the answer to an idempotency key once the endpoint
has started, "regardless of whether it succeeds or fails ... including 500 errors", and
replays it for 24 hours; a request refused before that (failed parameter validation, a
rate limit) is not saved (docs.stripe.com/api/idempotent_requests). `replay` says which
kind a fault is: true by default for 5xx, false otherwise. `delay` is how many seconds the
answer takes (0 unless told), so a test can hold Kassa inside a call to Stripe.
"""

import asyncio
import itertools
import json

from aiohttp import web
from localstripe import server

PATH = "/_kassa/faults"
DEFAULT_ERRORS = {
    429: {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Too many requests hit the API too quickly.",
    },
    500: {"type": "api_error", "message": "Something went wrong on Stripe's end."},
    502: {"type": "api_error", "message": "Something went wrong on Stripe's end."},
    503: {"type": "api_error", "message": "Stripe is temporarily unavailable."},
}

_pending: list[dict] = []
_answered: list[dict] = []
_saved: dict[str, dict] = {}
_request_ids = itertools.count(1)


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": {"type": "invalid_request_error", "message": message}}, status=status
    )


def _fault_from(body: object) -> dict | str:
    """A fault from a control request, or what is wrong with it."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    method = body.get("method", "POST")
    path = body.get("path")
    status = body.get("status")
    times = body.get("times", 1)
    if method not in {"GET", "POST", "DELETE"}:
        return "method must be GET, POST or DELETE"
    if not isinstance(path, str) or not path.startswith("/v1/"):
        return "path must be an API path such as /v1/payment_intents"
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        return "status must be an HTTP error status (400-599)"
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        return "times must be a whole number from 1"
    error = body.get("error", DEFAULT_ERRORS.get(status))
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        return "error must be Stripe's error object, with a type"
    replay = body.get("replay", status >= 500)
    if not isinstance(replay, bool):
        return "replay must be true or false"
    delay = body.get("delay", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 30:
        return "delay must be a number of seconds from 0 to 30"
    return {
        "method": method,
        "path": path,
        "status": status,
        "error": error,
        "times": times,
        "replay": replay,
        "delay": delay,
    }


async def _control(request: web.Request) -> web.Response:
    if request.method == "DELETE":
        _pending.clear()
        _answered.clear()
        _saved.clear()
        return web.json_response({"deleted": True})
    if request.method == "GET":
        return web.json_response({"pending": _pending, "answered": _answered})
    if request.method != "POST":
        return _error("Use GET, POST or DELETE", 405)
    try:
        fault = _fault_from(await request.json())
    except json.JSONDecodeError:
        fault = "body must be JSON"
    if isinstance(fault, str):
        return _error(fault)
    _pending.append(fault)
    return web.json_response(fault, status=201)


def _answer(status: int, error: dict, replayed: bool) -> web.Response:
    headers = {"Request-Id": f"req_fault{next(_request_ids):06d}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response({"error": error}, status=status, headers=headers)


@web.middleware
async def fault_middleware(request: web.Request, handler):
    """Answer control requests, saved keys and pending faults; pass everything else on."""
    if request.path == PATH:
        return await _control(request)
    key = request.headers.get("Idempotency-Key")
    if key and key in _saved:
        saved = _saved[key]
        _answered.append({**saved["log"], "replayed": True})
        return _answer(saved["status"], saved["error"], replayed=True)
    for fault in _pending:
        if fault["method"] == request.method and fault["path"] == request.path:
            fault["times"] -= 1
            if fault["times"] == 0:
                _pending.remove(fault)
            log = {
                "method": request.method,
                "path": request.path,
                "status": fault["status"],
                "idempotencyKey": key,
            }
            _answered.append({**log, "replayed": False})
            if key and fault["replay"]:
                _saved[key] = {"status": fault["status"], "error": fault["error"], "log": log}
            await asyncio.sleep(fault["delay"])
            return _answer(fault["status"], fault["error"], replayed=False)
    return await handler(request)


# First, so a fault is answered before localstripe looks at the request (or its key).
server.app.middlewares.insert(0, fault_middleware)
