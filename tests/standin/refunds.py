"""Refunds whose status changes after they are made, as Stripe's can (failed, canceled).

localstripe makes every refund `succeeded` at once. `POST /_kassa/refunds/{id}` with
`{"status": "failed"}` sets what Stripe would later report, so a test can then sign the
`refund.failed` or `refund.updated` event Stripe sends.
"""

from aiohttp import web
from localstripe import resources, server


async def set_status(request: web.Request) -> web.Response:
    refund = resources.Refund._api_retrieve(request.match_info["id"])
    body = await request.json()
    refund.status = body["status"]
    return server.json_response(refund._export())


server.app.router.add_post("/_kassa/refunds/{id}", set_status)
