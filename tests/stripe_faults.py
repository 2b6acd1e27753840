"""Driving the Stripe stand-in's faults (tests/standin/faults.py) from a test."""

import requests

# What Stripe answers when the account may not take Cash App Pay: the payment method type
# refused as a parameter, or the code Stripe documents for an unactivated payment method.
CASHAPP_TYPE_INVALID = {
    "type": "invalid_request_error",
    "param": "allowed_payment_method_types",
    "message": 'The payment method type "cashapp" is invalid. Please ensure the provided '
    "type is activated in your dashboard (https://dashboard.stripe.com/account/payments/"
    "settings) and your account is enabled for any preview features that you are trying "
    "to use.",
}
CASHAPP_UNACTIVATED = {
    "type": "invalid_request_error",
    "code": "payment_method_unactivated",
    "message": "The charge cannot be created as the payment method used has not been "
    "activated. Activate the payment method in the Dashboard, then try again.",
}


class StripeFaults:
    """Errors on demand at the stand-in; forgotten when the test ends."""

    def __init__(self, base: str):
        self.url = base + "/_kassa/faults"

    def add(self, path: str, status: int, error: dict | None = None, **options) -> None:
        """Answer the next request(s) to path with an error (method POST unless told)."""
        body = {"path": path, "status": status, **options}
        if error is not None:
            body["error"] = error
        requests.post(self.url, json=body, timeout=5).raise_for_status()

    def answered(self) -> list[dict]:
        """The requests answered with a fault so far: method, path, status, key, replayed."""
        return requests.get(self.url, timeout=5).json()["answered"]

    def clear(self) -> None:
        requests.delete(self.url, timeout=5).raise_for_status()
