"""Idempotency keys, as Stripe keeps them: a POST repeated with its `Idempotency-Key`
answers what the first one answered; the same key with other parameters is refused.

localstripe ignores the header, so a double-clicked refund would be two refunds there
and never at Stripe.
"""

from aiohttp import web
from localstripe import server

_SEEN: dict[str, tuple[bytes, int, bytes]] = {}


@web.middleware
async def replay(request: web.Request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or request.path.startswith("/_"):
        return await handler(request)
    body = await request.read()
    scope = f"{request.headers.get('Authorization', '')}|{key}"
    if scope in _SEEN:
        first_body, status, answer = _SEEN[scope]
        if first_body != body:
            error = {
                "error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                }
            }
            return web.json_response(error, status=400)
        return web.Response(
            body=answer,
            status=status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    response = await handler(request)
    if response.status < 500 and isinstance(response, web.Response) and response.body is not None:
        _SEEN[scope] = (body, response.status, bytes(response.body))
    return response


server.app.middlewares.append(replay)
