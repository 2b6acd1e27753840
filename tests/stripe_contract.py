"""The contract check: every request Kassa sends to Stripe, held to the SDK's typed params.

The stand-in records each request (tests/standin/contract.py); after every test that used
it, tests/plugins/contract.py hands them to `violations()`, which fails the test for a
request to an endpoint missing from `CALLS`, a parameter the pinned API version does not
have (nested keys included), a value of the wrong shape, a required parameter left out,
or a `Stripe-Version` other than Kassa's pinned one.

`stripe.params` follows the API version the installed SDK was generated for, so a
parameter that version removed or renamed is an unknown key here.
"""

import inspect
import re
import types
import typing

import stripe
from stripe import params
from stripe._request_options import RequestOptions

# One line per Stripe call Kassa makes: (HTTP method, path as the SDK writes it) → the
# SDK's params for that call. tests/test_stripe_contract.py finds every call in
# checkout/stripe_gateway.py and fails for one without its line here.
CALLS: dict[tuple[str, str], type] = {
    ("POST", "/v1/payment_intents"): params.PaymentIntentCreateParams,
    ("GET", "/v1/payment_intents/{intent}"): params.PaymentIntentRetrieveParams,
    ("POST", "/v1/payment_intents/{intent}/cancel"): params.PaymentIntentCancelParams,
    ("POST", "/v1/payment_intents/{intent}"): params.PaymentIntentUpdateParams,
    ("POST", "/v1/refunds"): params.RefundCreateParams,
    ("GET", "/v1/refunds"): params.RefundListParams,
    ("GET", "/v1/charges/{charge}"): params.ChargeRetrieveParams,
    ("GET", "/v1/checkout/sessions/{session}"): params.checkout.SessionRetrieveParams,
    ("GET", "/v1/checkout/sessions"): params.checkout.SessionListParams,
    ("GET", "/v1/payment_links/{payment_link}"): params.PaymentLinkRetrieveParams,
    ("GET", "/v1/account"): params.AccountRetrieveCurrentParams,
    ("GET", "/v1/webhook_endpoints"): params.WebhookEndpointListParams,
}

# The tests' own client (a customer's wallet, a test setting the stand-in up) uses this key;
# every other request the stand-in receives is Kassa's.
WALLET_KEY = "sk_test_wallet"

# Options of the SDK call, not parameters sent to Stripe.
_OPTIONS = frozenset(RequestOptions.__annotations__)
_INTEGER = re.compile(r"^-?\d+$")
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def kassa_requests(recorded: list[dict]) -> list[dict]:
    """The recorded requests Kassa sent: made with a secret key that is not the wallet's."""
    return [
        request
        for request in recorded
        if request["apiKey"]
        and request["apiKey"].startswith(("sk_", "rk_"))
        and request["apiKey"] != WALLET_KEY
    ]


def violations(recorded: list[dict], api_version: str) -> list[str]:
    """What is wrong with each of Kassa's recorded requests; empty when all keep the contract."""
    found = []
    for request in kassa_requests(recorded):
        call = f"{request['method']} {request['path']}"
        params_class = params_for(request["method"], request["path"])
        if params_class is None:
            found.append(
                f"{call}: no entry in CALLS (tests/stripe_contract.py) for this endpoint; "
                "add its (method, path) and the SDK's params class"
            )
            continue
        if request["stripeVersion"] != api_version:
            found.append(
                f"{call}: Stripe-Version {request['stripeVersion']!r}, "
                f"but Kassa pins {api_version!r}"
            )
        sent = {**request["query"], **request["body"]}
        found += [f"{call}: {problem}" for problem in check_params(sent, params_class)]
    return found


def params_for(method: str, path: str) -> type | None:
    """The params class of the CALLS entry whose path pattern matches; literal paths first."""
    matches = [
        (pattern.count("{"), params_class)
        for (call_method, pattern), params_class in CALLS.items()
        if call_method == method and _pattern(pattern).match(path)
    ]
    return min(matches, key=lambda match: match[0])[1] if matches else None


def _pattern(path: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", path)
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{regex}$")


def check_params(sent: dict, params_class: type) -> list[str]:
    """Problems of a request's parameters against the SDK's TypedDict for the call."""
    return _check_typed_dict(sent, params_class, "")


def _hints(typed_dict: type) -> dict:
    # The call options params classes inherit from RequestOptions are not parameters, and
    # their hints name types their module imports only under TYPE_CHECKING.
    names = {"StripeContext": str, "Mapping": typing.Mapping}
    hints = typing.get_type_hints(typed_dict, localns=names)
    return {name: hint for name, hint in hints.items() if name not in _OPTIONS}


def _check_typed_dict(value, typed_dict: type, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where or 'parameters'}: expected an object, got {_shape(value)}"]
    hints = _hints(typed_dict)

    def inner(name: str) -> str:
        return f"{where}.{name}" if where else name

    problems = [f"{inner(name)}: unknown parameter" for name in value if name not in hints]
    problems += [
        f"{inner(name)}: required parameter missing"
        for name in sorted(typed_dict.__required_keys__ - _OPTIONS)
        if name not in value
    ]
    for name, item in value.items():
        if name in hints:
            problems += _check(item, hints[name], inner(name))
    return problems


def _check(value, hint, where: str) -> list[str]:
    """Problems of one form value (strings, nested dicts and lists) against a type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any:
        return []
    if origin in (typing.Union, types.UnionType):
        attempts = [(option, _check(value, option, where)) for option in args]
        if any(not problems for _, problems in attempts):
            return []
        # Report against the option of the value's own shape: a nested object's unknown
        # key, not "an object is not ''".
        alike = [problems for option, problems in attempts if _kind(option) == _kind(value)]
        return min(alike or [problems for _, problems in attempts], key=len)
    if origin is typing.Literal:
        allowed = {_form(option) for option in args}
        if isinstance(value, str) and value in allowed:
            return []
        return [f"{where}: {_shape(value)} is not one of {sorted(allowed)}"]
    if is_typed_dict(hint):
        return _check_typed_dict(value, hint, where)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {_shape(value)}"]
        problems = []
        for index, item in enumerate(value):
            problems += _check(item, args[0], f"{where}[{index}]")
        return problems
    if _is_mapping(origin):
        if isinstance(value, list):  # keys 0..n-1 were read as a list
            value = {str(index): item for index, item in enumerate(value)}
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {_shape(value)}"]
        problems = []
        for key, item in value.items():
            problems += _check(item, args[1] if len(args) == 2 else args[0], f"{where}.{key}")
        return problems
    return _check_scalar(value, hint, where)


def _check_scalar(value, hint, where: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: expected {getattr(hint, '__name__', hint)}, got {_shape(value)}"]
    valid = {
        str: lambda text: True,
        int: _INTEGER.match,
        float: _NUMBER.match,
        bool: lambda text: text in ("true", "false"),
    }.get(hint)
    if valid is None:
        return [f"{where}: the check cannot read the SDK's type {hint!r}"]
    if not valid(value):
        return [f"{where}: {value!r} is not {_NAMES[hint]}"]
    return []


def is_typed_dict(hint) -> bool:
    """Whether a hint is a TypedDict (the SDK's come from typing_extensions)."""
    return inspect.isclass(hint) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


def _is_mapping(origin) -> bool:
    # Dict[str, str] and the SDK's UntypedStripeObject[str] (metadata) are both mappings.
    return origin is not None and (
        origin is dict or (inspect.isclass(origin) and issubclass(origin, stripe.StripeObject))
    )


def _form(option) -> str:
    """A Literal's value as a form body carries it."""
    return str(option).lower() if isinstance(option, bool) else str(option)


def _kind(hint_or_value) -> str:
    """Object, list or scalar: what a hint describes, or what a value is."""
    if isinstance(hint_or_value, dict) or is_typed_dict(hint_or_value):
        return "object"
    origin = typing.get_origin(hint_or_value)
    if _is_mapping(origin):
        return "object"
    return "list" if isinstance(hint_or_value, list) or origin is list else "scalar"


def _shape(value) -> str:
    return {dict: "an object", list: "a list"}.get(type(value), repr(value))
