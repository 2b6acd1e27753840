"""localstripe, adapted where it refuses what real Stripe accepts. Test plumbing only.

Real Stripe takes `description` on a PaymentIntent and reports `amount_received`;
localstripe answers "Unexpected description" and has no amount_received. The production
call stays as Stripe documents it; this stand-in learns the two fields instead.
"""

from localstripe import resources, server

_original_init = resources.PaymentIntent.__init__


def _init_with_description(self, description=None, **kwargs):
    _original_init(self, **kwargs)
    self.description = description


def _amount_received(self):
    return self.amount if self.status == "succeeded" else 0


resources.PaymentIntent.__init__ = _init_with_description
resources.PaymentIntent.amount_received = property(_amount_received)

if __name__ == "__main__":
    server.start()
