"""Where localstripe refuses or omits what real Stripe accepts and reports.

Real Stripe takes `description` and `allowed_payment_method_types` on a PaymentIntent and
reports `amount_received`; localstripe answers "Unexpected description" and has no
amount_received. The production call stays as Stripe documents it; the stand-in learns the
fields instead.
"""

from localstripe import resources

_original_init = resources.PaymentIntent.__init__


def _init(self, description=None, allowed_payment_method_types=None, **kwargs):
    _original_init(self, **kwargs)
    self.description = description
    self.payment_method_types = allowed_payment_method_types or ["card"]


def _amount_received(self):
    return self.amount if self.status == "succeeded" else 0


resources.PaymentIntent.__init__ = _init
resources.PaymentIntent.amount_received = property(_amount_received)
