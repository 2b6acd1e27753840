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


# Updating a PaymentIntent's amount (a discount code entered on the checkout page): Stripe
# takes a positive integer and reports it as one; localstripe would keep the form's text.
# Stripe refuses the change once the payment is under way or done (400).
_original_update = resources.PaymentIntent._update


def _update(self, **data):
    if "amount" in data:
        amount = resources.try_convert_to_int(data["amount"])
        if type(amount) is not int or amount <= 0:
            raise resources.UserError(400, "Invalid positive integer")
        if self.status not in ("requires_payment_method", "requires_confirmation"):
            raise resources.UserError(
                400,
                f"This PaymentIntent's amount could not be updated because it has a status of "
                f"{self.status}.",
            )
        data["amount"] = amount
    _original_update(self, **data)


resources.PaymentIntent._update = _update
