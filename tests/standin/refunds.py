"""Refunds whose status changes after they are made, as Stripe's can (failed, canceled).

localstripe makes every refund `succeeded` at once. `POST /_kassa/refunds/{id}` with
`{"status": "failed"}` sets what Stripe would later report, so a test can then sign the
`refund.failed` or `refund.updated` event Stripe sends.
"""

from aiohttp import web
from localstripe import errors, resources, server


async def set_status(request: web.Request) -> web.Response:
    refund = resources.Refund._api_retrieve(request.match_info["id"])
    body = await request.json()
    refund.status = body["status"]
    return server.json_response(refund._export())


server.app.router.add_post("/_kassa/refunds/{id}", set_status)


# Stripe refuses a refund beyond what is left of its charge ("Refund amount ($20.00) is
# greater than unrefunded amount on charge ($15.00)", or `charge_already_refunded` once
# nothing is left); localstripe accepts any amount, and an omitted amount refunds the whole
# charge again. Refunds that failed or were canceled give their amount back, as at Stripe.
_make_refund = resources.Refund.__init__


def _charge_of(charge, payment_intent):
    if charge is not None or payment_intent is None:
        return charge
    intent = resources.PaymentIntent._api_retrieve(payment_intent)
    return intent.latest_charge.id if intent.latest_charge else None


def _major(minor: int, currency: str) -> str:
    # Enough for the message: the stand-in's tests charge two-decimal currencies.
    return f"${minor / 100:.2f}" if currency == "usd" else f"{minor} {currency}"


# Stripe's refund `reason` (one of three, else 400); localstripe refuses the parameter.
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _refund_at_most_what_is_left(
    self, charge=None, payment_intent=None, amount=None, reason=None, **kw
):
    if reason is not None and reason not in REASONS:
        raise errors.UserError(
            400, f"Invalid reason: must be one of {', '.join(REASONS)}", {"param": "reason"}
        )
    charge_id = _charge_of(charge, payment_intent)
    if charge_id is not None:
        charge_obj = resources.Charge._api_retrieve(charge_id)
        taken = sum(
            refund.amount
            for refund in charge_obj.refunds._list
            if getattr(refund, "status", "succeeded") not in ("failed", "canceled")
        )
        left = charge_obj.amount - taken
        if left <= 0:
            raise errors.UserError(
                400,
                f"Charge {charge_id} has already been refunded.",
                {"code": "charge_already_refunded"},
            )
        wanted = left if amount is None else resources.try_convert_to_int(amount)
        if isinstance(wanted, int) and wanted > left:
            currency = charge_obj.currency
            raise errors.UserError(
                400,
                f"Refund amount ({_major(wanted, currency)}) is greater than unrefunded "
                f"amount on charge ({_major(left, currency)})",
                {"param": "amount"},
            )
        if amount is None:
            amount = left
    _make_refund(self, charge=charge, payment_intent=payment_intent, amount=amount, **kw)
    self.reason = reason


resources.Refund.__init__ = _refund_at_most_what_is_left
