"""Where localstripe refuses or omits what real Stripe accepts and reports.

Real Stripe takes `description` and `allowed_payment_method_types` on a PaymentIntent and
reports `amount_received`; localstripe answers "Unexpected description" and has no
amount_received. The production call stays as Stripe documents it; the stand-in learns the
fields instead.
"""

from aiohttp import web
from localstripe import resources, server

_original_init = resources.PaymentIntent.__init__


def _init(self, description=None, allowed_payment_method_types=None, **kwargs):
    _original_init(self, **kwargs)
    self.description = description
    self.payment_method_types = allowed_payment_method_types or ["card"]


def _amount_received(self):
    return self.amount if self.status == "succeeded" else 0


resources.PaymentIntent.__init__ = _init
resources.PaymentIntent.amount_received = property(_amount_received)


# Test control routes live under /_kassa/ and, like localstripe's own /_config/, need no key.
@web.middleware
async def _auth_unless_control(request, handler):
    if request.path.startswith("/_kassa/"):
        return await handler(request)
    return await server.auth_middleware(request, handler)


server.app.middlewares[server.app.middlewares.index(server.auth_middleware)] = _auth_unless_control
