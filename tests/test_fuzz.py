"""Whatever a client sends, Kassa answers 2xx, 3xx or 4xx, and a refused request changes nothing.

The API is fuzzed from its own OpenAPI document (schemathesis); the Stripe webhook, every
form, every page's query string and every route's path parameters (as the signed-in admin)
from Hypothesis strategies, and each edge value alone in each parameter by a sweep.
"""

import hashlib
import json
import re
import time
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from checkout import audit, branding, stripe_events, tasks
from checkout import mail as checkout_mail
from checkout.api.openapi import openapi_document
from checkout.extensions import db
from checkout.models import Admin, Notification, Provider
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_paid_order,
    bearer,
    create_link,
    csrf_token,
)
from tests.stripe_signing import WEBHOOK_SECRET, signature

API_BASE = "http://localhost/api/v1"
# Modest counts keep this file near 30 s; each run draws new examples.
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_API = settings(FUZZ, max_examples=25)
# What a refused request may still write: the throttles' counts (a key's last use is noted
# for accepted requests only), and its answer kept for repeats of its Idempotency-Key.
BOOKKEEPING = {"throttle_hits", "idempotency_keys"}


# What digest reads: every table's columns but the bookkeeping, one statement a table, built
# once (the statements' compiled SQL is then cached).
SNAPSHOT = [
    (table.name, select(*(c for c in table.columns if f"{table.name}.{c.name}" not in BOOKKEEPING)))
    for table in db.metadata.sorted_tables
    if table.name not in BOOKKEEPING
]


def digest(app) -> str:
    """Every row of every table, hashed: equal digests mean nothing was written."""
    sha = hashlib.sha256()
    with app.app_context(), db.engine.connect() as connection:
        for name, statement in SNAPSHOT:
            rows = connection.execute(statement).all()
            sha.update(name.encode())
            sha.update(repr(sorted(map(repr, rows))).encode())
    return sha.hexdigest()


def assert_answered(app, before: str, response) -> None:
    """Never a 5xx, and a 4xx wrote nothing."""
    assert response.status_code < 500, response.get_data()[:500]
    if response.status_code >= 400:
        assert digest(app) == before, f"{response.status_code} changed the database"


# Text a person, a browser or a script might put in a field, junk and edge values included.
EDGE_VALUES = [
    "",
    "0",
    "-1",
    "1.5",
    "1e400",
    "NaN",
    "99999999999999999999999",
    "²",
    "٣",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2026-02-30",
    "http://127.0.0.1/",
    "javascript:alert(1)",
    "ord_" + "0" * 24,
    "plink_" + "0" * 24,
    "y",
    "a\x00b",
    "\u202e\ufeff",
    "x" * 300,
]
EDGES = st.sampled_from(EDGE_VALUES)
TEXTS = EDGES | st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


# The provider API: every operation in its OpenAPI document, valid and invalid requests alike.
api = schemathesis.openapi.from_dict(openapi_document("http://localhost"))


@pytest.fixture
def api_link(client, api_key):
    """A payment link of the fuzzing key's provider."""
    response = client.post("/api/v1/payment-links", json={}, headers=bearer(api_key))
    return response.get_json()["id"]


@api.parametrize()
@api.given(own_link=st.booleans())
@FUZZ_API
def test_api_never_answers_5xx(case, app, api_key, api_link, own_link):
    if own_link and "linkId" in (case.path_parameters or {}):
        # A drawn id is almost never a real one: half the time, reach the provider's link.
        case.path_parameters["linkId"] = api_link
    before = digest(app)
    response = case.call(app=app, base_url=API_BASE, headers=bearer(api_key))
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert digest(app) == before, f"{response.status_code} changed the database"


# The Stripe webhook: signed, badly signed and unsigned bodies, event-shaped or not.
APPLIED_TYPES = [
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "refund.created",
    "refund.updated",
    "refund.failed",
]
EVENT_TYPES = st.sampled_from([*APPLIED_TYPES, "checkout.session.expired", "x"]) | TEXTS


@st.composite
def stripe_bodies(draw, order_ids):
    """An event (often of a handled type, about a real order) or any bytes at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=80))
    data_object = {
        "id": draw(st.sampled_from(["pi_1", "re_1", "ch_1"]) | json_values),
        "object": draw(st.sampled_from(["payment_intent", "refund"]) | json_values),
        "amount": draw(st.integers(-(2**70), 2**70) | json_values),
        "amount_received": draw(st.integers(0, 10**6) | json_values),
        "currency": draw(st.sampled_from(["usd", "jpy", "USD"]) | json_values),
        "status": draw(st.sampled_from(["succeeded", "pending", "failed"]) | json_values),
        "metadata": draw(
            st.fixed_dictionaries({"orderId": st.sampled_from(order_ids)}) | json_values
        ),
        "payment_intent": draw(st.none() | st.just("pi_1") | json_values),
        "created": draw(st.integers(-(2**70), 2**70) | json_values),
    }
    event = {
        "id": draw(st.text(min_size=1, max_size=12).map("evt_".__add__) | json_values),
        "object": "event",
        "type": draw(EVENT_TYPES | json_values),
        "created": int(time.time()),
        "data": draw(st.just({"object": data_object}) | json_values),
    }
    return json.dumps(event).encode()


# Half the bodies correctly signed, so that half reach the parsing and recording behind it.
SIGNINGS = st.sampled_from(["now"] * 5 + ["none", "wrong-secret", "future", "past", "junk"])


def stripe_headers(body: bytes, signing: str) -> dict:
    now = int(time.time())
    header = {
        "now": lambda: signature(body),
        "none": lambda: None,
        "wrong-secret": lambda: signature(body, secret="whsec_other"),
        "future": lambda: signature(body, timestamp=now + 3600),
        "past": lambda: signature(body, timestamp=now - 3600),
        "junk": lambda: "t=,v1=" + body[:20].hex(),
    }[signing]()
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return headers


@pytest.fixture
def stripe_world(app, client, api_key):
    """Two orders a fuzzed event may name, one of them paid."""
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return [
        api_new_order(client, api_key, externalId="open"),
        api_paid_order(client, api_key, "paid"),
    ]


@FUZZ
@given(data=st.data(), signing=SIGNINGS)
def test_stripe_webhook_never_answers_5xx(app, client, stripe_world, data, signing):
    body = data.draw(stripe_bodies(stripe_world))
    before = digest(app)
    response = client.post("/webhooks/stripe", data=body, headers=stripe_headers(body, signing))
    assert_answered(app, before, response)
    if response.status_code == 200 and response.get_json()["result"] == "queued":
        event_id = json.loads(body)["id"]
        if json.loads(body)["type"] in APPLIED_TYPES:
            with app.app_context():
                tasks.apply_stripe_event.call_local(event_id)
    if signing != "now":
        assert response.status_code == 400


# Forms: every field a page's forms carry, filled with anything, with the session's real
# CSRF token (mostly) so the values reach the views.
FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*?\bname="([^"]+)"', re.S)


def form_fields(client, url: str) -> list[str]:
    """The names of the fields a page's forms send."""
    fields = sorted(set(FIELD.findall(client.get(url).text)) - {"csrf_token"})
    assert fields, url
    return fields


@pytest.fixture
def world(app, admin_client, make):
    """A service, a provider with a key, a link with a password, an open and a paid order."""
    service_id = make.service()
    provider = make.provider(service_id=service_id)
    provider_id, key = provider.id, provider.api_key
    link_id = create_link(admin_client, service_id, password="open sesame", max_uses="3")
    free_link = create_link(admin_client, service_id)
    open_order = api_new_order(admin_client, key, externalId="open")
    paid_order = api_paid_order(admin_client, key, "paid")
    hooked_key = make.provider(service_id, name="Hooked", webhook_url=UNREACHABLE_HOOK).api_key
    api_paid_order(admin_client, hooked_key, "notified")
    other_admin, _ = make.admin("other@example.com")
    with app.app_context():
        key_id = db.session.execute(select(db.metadata.tables["api_keys"].c.id)).scalar()
        event = {"id": "evt_fuzz", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
        stripe_events.record(event, json.dumps(event))
        notification_id = db.session.scalar(select(Notification.id))
        mail_id = checkout_mail.queue("ops@example.com", "test", kind="test").id
        db.session.commit()
        admin_id = db.session.scalar(select(Admin.id).where(Admin.email == other_admin))
        logo_hash = branding.set_branding(
            db.session.get(Provider, provider_id),
            branding.BrandingChanges(logo=b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
            actor=audit.SYSTEM,
        ).logo_hash
    admin_client.get(f"/l/{link_id}")
    endpoint_id = admin_client.post(
        "/api/v1/webhook-endpoints", json={"url": UNREACHABLE_HOOK}, headers=bearer(key)
    ).get_json()["id"]
    code_id = admin_client.post(
        "/api/v1/discount-codes",
        json={"code": "FUZZ10", "percentOff": 10, "maxRedemptions": 2},
        headers=bearer(key),
    ).get_json()["id"]
    ids = {"service": service_id, "provider": provider_id, "link": link_id, "code": code_id}
    return {
        "csrf_token": csrf_token(admin_client.get("/admin/links/new").text),
        # Read once: the examples' strategies must not depend on what earlier ones changed.
        "fields": {page: form_fields(admin_client, page.format(**ids)) for page in FORM_PAGES},
        "service": service_id,
        "provider": provider_id,
        "key": key_id,
        "link": link_id,
        "free_link": free_link,
        "order": open_order,
        "paid": paid_order,
        "notification": notification_id,
        "endpoint": endpoint_id,
        "event": "evt_fuzz",
        "mail": mail_id,
        "admin": str(admin_id),
        "logo": logo_hash,
        "code": code_id,
        "state": "on",
        "choice": "timestamped",
        "ext": "svg",
    }


FORM_PAGES = [
    "/admin/services/new",
    "/admin/services/{service}/edit",
    "/admin/providers/new",
    "/admin/providers/{provider}/edit",
    "/admin/links/new",
    "/admin/links/{link}/edit",
    "/admin/discounts/new",
    "/admin/discounts/{code}/edit",
]
ACTIONS = [
    ("/admin/orders/{paid}/refund", ["amount", "reason"]),
    ("/admin/orders/{order}/accept", ["reason"]),
    ("/admin/links/{link}/activate", []),
    ("/admin/links/{link}/deactivate", []),
    ("/admin/links/{link}/copy", []),
    ("/admin/providers/{provider}/keys", ["label", "name"]),
    ("/admin/providers/{provider}/keys/{key}/regenerate", []),
    ("/admin/providers/{provider}/keys/{key}/revoke", []),
    ("/admin/providers/{provider}/rotate-secret", []),
    ("/admin/providers/{provider}/enable-endpoint", []),
    ("/admin/providers/{provider}/test-event", []),
    ("/admin/mail/{mail}/resend", []),
    ("/admin/providers/{provider}/endpoints", ["url", "description", "events"]),
    ("/admin/providers/{provider}/endpoints/{endpoint}/off", []),
    ("/admin/providers/{provider}/endpoints/{endpoint}/test", []),
    ("/admin/providers/{provider}/endpoints/{endpoint}/rotate-secret", []),
    ("/admin/deliveries/resend-failed", []),
    ("/admin/deliveries/{order}/resend", []),
    ("/admin/stripe-events/{order}/retry", []),
    ("/l/{free_link}/pay", ["quantity"]),
    ("/l/{link}/pay", ["quantity"]),
    ("/l/{free_link}/pay", ["quantity", "amount", "discount_code"]),
    ("/l/{link}/unlock", ["password"]),
    ("/checkout/sandbox", ["orderId", "outcome", "csrf_token"]),
    ("/checkout/discount", ["orderId", "discount_code", "discount_token"]),
    ("/checkout/details", ["orderId", "csrf_token", "email", "terms", "field_size"]),
]
IDS = st.sampled_from(["{service}", "{provider}", "{link}", "{order}", "{paid}", "x", "%00"])


def fill(fields: list[str], token: str | None = None):
    """Values for some of the fields (a browser may leave any out), plus a stray one; the
    CSRF token, when given, nine times in ten."""
    values = st.dictionaries(st.sampled_from([*fields, "extra"]), TEXTS, max_size=len(fields) + 1)
    if token is None:
        return values
    tokens = st.sampled_from([{"csrf_token": token}] * 9 + [{}])
    return st.builds(lambda form, extra: {**form, **extra}, values, tokens)


@FUZZ
@given(data=st.data(), page=st.sampled_from(FORM_PAGES))
def test_admin_forms_never_answer_5xx(app, admin_client, world, data, page):
    form = data.draw(fill(world["fields"][page], world["csrf_token"]))
    before = digest(app)
    assert_answered(app, before, admin_client.post(page.format(**world), data=form))


@FUZZ
@given(data=st.data(), action=st.sampled_from(ACTIONS), swap_id=st.booleans())
def test_actions_never_answer_5xx(app, admin_client, world, data, action, swap_id):
    path, fields = action
    if swap_id:  # the same action on an id of another kind, or on junk
        path = re.sub(r"\{\w+\}", data.draw(IDS), path, count=1)
    form = data.draw(fill(fields, world["csrf_token"]))
    before = digest(app)
    assert_answered(app, before, admin_client.post(path.format(**world), data=form))


@pytest.fixture
def admin_account(make):
    return make.admin()


@FUZZ
@given(data=st.data(), next_url=st.none() | TEXTS)
def test_login_never_answers_5xx(app, client, admin_account, data, next_url):
    email, password = admin_account
    token = csrf_token(client.get("/admin/login").text)
    form = data.draw(fill(["email", "password"], token))
    form = data.draw(
        st.sampled_from(
            [form, {**form, "email": email}, {**form, "email": email, "password": password}]
        )
    )
    query = {} if next_url is None else {"next": next_url}
    before = digest(app)
    response = client.post("/admin/login", data=form, query_string=query)
    assert_answered(app, before, response)
    client.post("/admin/logout", data={"csrf_token": token})


# Query strings: every page a browser can GET, with the parameters it reads (a stray one is
# always drawn as well). test_every_page_has_its_query_string_fuzzed keeps the list whole.
ORDER_FILTERS = ["status", "provider", "date_from", "date_to", "q"]
DELIVERY_FILTERS = ["status", "provider", "event"]
AUDIT_FILTERS = ["actor_kind", "actor", "action", "subject_type", "subject_id"]
QUERY_PAGES = {
    "/": [],
    "/healthz": [],
    "/metrics": [],
    "/readyz": [],
    "/checkout": ["orderId", "paymentLinkId", "returned", "payment_intent", "redirect_status"],
    "/checkout/status": ["orderId", "returned"],
    "/l/{link}": ["download", "code"],
    "/l/{link}/qr.png": ["download"],
    "/l/{link}/overlay": [],
    "/l/{free_link}/qr.svg": ["download"],
    "/brand/{provider}/logo-{logo}.{ext}": [],
    "/admin/login": ["next"],
    "/admin/": ["page"],
    "/admin/orders": [*ORDER_FILTERS, "page"],
    "/admin/orders.csv": ORDER_FILTERS,
    "/admin/orders/{order}": [],
    "/admin/orders/{paid}/refund": ["amount"],
    "/admin/deliveries": [*DELIVERY_FILTERS, "page"],
    "/admin/deliveries.csv": DELIVERY_FILTERS,
    "/admin/deliveries/{notification}": [],
    "/admin/deliveries/resend-failed": ["since"],
    "/admin/stripe-events": ["state", "page"],
    "/admin/mail": ["status", "page"],
    "/admin/mail/{mail}": [],
    "/admin/audit": [*AUDIT_FILTERS, "date_from", "date_to", "page"],
    "/admin/links": ["page", "status"],
    "/admin/links/new": [],
    "/admin/links/{link}": [],
    "/admin/links/{link}/edit": [],
    "/admin/links/{link}/deactivate": [],
    "/admin/discounts": [],
    "/admin/discounts/new": [],
    "/admin/discounts/{code}/edit": [],
    "/admin/providers": ["page"],
    "/admin/providers/new": [],
    "/admin/providers/{provider}": [],
    "/admin/providers/{provider}/edit": [],
    "/admin/providers/{provider}/branding": [],
    "/admin/providers/{provider}/keys/{key}": [],
    "/admin/providers/{provider}/keys/{key}/regenerate": [],
    "/admin/providers/{provider}/keys/{key}/revoke": [],
    "/admin/providers/{provider}/request-secret": [],
    "/admin/providers/{provider}/request-secret/shown": [],
    "/admin/providers/{provider}/rotate-secret": [],
    "/admin/providers/{provider}/endpoints/new-secret": [],
    "/admin/providers/{provider}/endpoints/{endpoint}/rotate-secret": [],
    "/admin/providers/{provider}/endpoints/{endpoint}/delete": [],
    "/admin/providers/{provider}/signatures/{state}": [],
    "/admin/providers/{provider}/signature-format/{choice}": [],
    "/admin/services": ["page"],
    "/admin/services/new": [],
    "/admin/services/{service}/edit": [],
    "/admin/admins": [],
    "/admin/admins/{admin}/remove": [],
    "/admin/password": [],
    "/api/v1/orders": ["limit", "status", "externalId", "startingAfter"],
    "/api/v1/openapi.json": ["x"],
}
PLACEHOLDER = re.compile(r"<[^>]+>|\{\w+\}")


def test_every_page_has_its_query_string_fuzzed(app):
    # The API is fuzzed from its OpenAPI document; static files read no query string.
    pages = {
        PLACEHOLDER.sub("*", rule.rule)
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static/"))
    }
    listed = {PLACEHOLDER.sub("*", page) for page in QUERY_PAGES}
    assert pages - listed == set()


@FUZZ
@given(data=st.data(), page=st.sampled_from(sorted(QUERY_PAGES)))
def test_query_strings_never_answer_5xx(app, admin_client, world, data, page):
    query = data.draw(fill(QUERY_PAGES[page]))
    before = digest(app)
    response = admin_client.get(page.format(**world), query_string=query)
    assert response.status_code < 500, response.get_data()[:500]
    if response.status_code >= 400:
        assert digest(app) == before


# Path parameters: every route's (but the API's, fuzzed from its document), each a real id
# of its own kind or another, or junk; by each method the route takes, a POST with the
# session's CSRF token (mostly).
ARGUMENT_KINDS = {
    "provider_id": "provider",
    "service_id": "service",
    "link_id": "link",
    "order_id": "order",
    "key_id": "key",
    "endpoint_id": "endpoint",
    "notification_id": "notification",
    "event_id": "event",
    "mail_id": "mail",
    "admin_id": "admin",
    "state": "state",
    "choice": "choice",
    "digest": "logo",
    "ext": "ext",
    "code_id": "code",
}
ARGUMENT = re.compile(r"<(?:[^:>]+:)?(\w+)>")
JUNK_SEGMENTS = (EDGES | st.text(max_size=30)).map(lambda text: quote(text, safe="")) | st.just(
    "%00"
)


def _path(rule: str, world: dict, **arguments: str) -> str:
    """The rule's path with the given arguments, and the world's own ids for the rest."""
    return ARGUMENT.sub(
        lambda argument: arguments.get(argument[1], world[ARGUMENT_KINDS[argument[1]]]), rule
    )


def routes_with_parameters(app) -> list[tuple[str, str]]:
    """(method, rule) of every route with path parameters, but the API's and static files'."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.arguments and not rule.rule.startswith(("/api/", "/static/"))
        for method in rule.methods & {"GET", "POST"}
    )


@FUZZ
@given(data=st.data())
def test_path_parameters_never_answer_5xx(app, admin_client, world, data):
    method, rule = data.draw(st.sampled_from(routes_with_parameters(app)))
    real_ids = sorted({world[kind] for kind in ARGUMENT_KINDS.values()})

    # Each argument keeps the world's id of its kind, or takes another kind's id or junk.
    others = st.sampled_from(real_ids) | JUNK_SEGMENTS
    names = ARGUMENT.findall(rule)
    arguments = data.draw(st.dictionaries(st.sampled_from(names), others, max_size=len(names)))
    path = _path(rule, world, **arguments)
    form = data.draw(fill([], world["csrf_token"])) if method == "POST" else None
    before = digest(app)
    assert_answered(app, before, admin_client.open(path, method=method, data=form))


# The random examples above rarely meet one edge value in one parameter of one page; these
# sweeps try each, alone, everywhere.


def test_each_edge_value_in_each_query_parameter_answers_below_500(admin_client, world):
    found = []
    for page, names in QUERY_PAGES.items():
        for name in names:
            for value in EDGE_VALUES:
                path = page.format(**world)
                status = admin_client.get(path, query_string={name: value}).status_code
                if status >= 500:
                    found.append(f"GET {page}?{name}={value!r}: {status}")
    assert found == []


def test_each_edge_value_in_each_path_parameter_answers_below_500(app, admin_client, world):
    found = []
    form = {"csrf_token": world["csrf_token"]}
    for method, rule in routes_with_parameters(app):
        for name in ARGUMENT.findall(rule):
            for value in (quote(edge, safe="") for edge in EDGE_VALUES):
                path = _path(rule, world, **{name: value})
                status = admin_client.open(path, method=method, data=form).status_code
                if status >= 500:
                    found.append(f"{method} {path}: {status}")
    assert found == []
