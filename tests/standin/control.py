"""Test control routes under `/_kassa/`: open without an API key, as localstripe's own
`/_config/` routes are, so a test can read and set the stand-in's state."""

import json

from aiohttp import web
from localstripe import server

PREFIX = "/_kassa/"


def bad_request(message: str) -> web.HTTPBadRequest:
    """A control request's 400, to raise: {"error": message}."""
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def read_json(request: web.Request) -> dict:
    """The JSON object a control request carries; 400 for anything else."""
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise bad_request("send a JSON object")
    return data


def add_route(method: str, path: str, handler) -> None:
    """Serve a control route; its path must start with /_kassa/."""
    assert path.startswith(PREFIX), path
    server.app.router.add_route(method, path, handler)


@web.middleware
async def _auth_except_control(request, handler):
    if request.path.startswith(PREFIX):
        return await handler(request)
    return await server.auth_middleware(request, handler)


_middlewares = server.app.middlewares
_middlewares[_middlewares.index(server.auth_middleware)] = _auth_except_control
