"""Whatever a client sends to the API, the answer is a JSON 4xx or a 200, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import bearer


def fuzz(examples: int):
    """Settings for fuzzing through the Flask client fixture."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Amounts as a provider's JSON encoder would write them: numbers of any scale, or junk.
amount_texts = (
    st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.decimals(min_value=-(10**6), max_value=10**6, places=3).map(str)
    | json_values.map(json.dumps)
)


@fuzz(200)
@given(
    external_id=json_values,
    amount=st.none() | amount_texts,
    raw=st.binary(max_size=64),
    use_raw=st.booleans(),
)
def test_create_payment_intent_never_errors(client, api_key, external_id, amount, raw, use_raw):
    parts = []
    if external_id is not None:
        parts.append(f'"externalId": {json.dumps(external_id)}')
    if amount is not None:
        parts.append(f'"amount": {amount}')
    data = raw if use_raw else "{" + ", ".join(parts) + "}"
    response = client.post(
        "/api/v1/create-payment-intent",
        data=data,
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.status_code in {200, 400, 409, 422}, response.data
    assert response.is_json
    if response.status_code != 200:
        assert isinstance(response.get_json()["error"], str)


@fuzz(60)
@given(order_id=st.text(max_size=80), query=st.text(max_size=40))
def test_pages_never_error(client, order_id, query):
    for url in ("/checkout", "/checkout/status"):
        response = client.get(url, query_string={"orderId": order_id, "x": query})
        assert response.status_code in {200, 400, 404}
    response = client.get(
        "/api/v1/orders",
        query_string={"limit": query, "status": order_id},
        headers={"Authorization": "Bearer " + "".join(query.splitlines())},
    )
    assert response.status_code in {400, 401, 422}


# What a provider might send to change a link: sensible values, edge values and junk.
LINK_CHANGES = {
    "title": st.sampled_from(["Summer sale", "", " ", "x" * 121]),
    "description": st.sampled_from(["", "Front row", "x" * 2001]),
    "active": st.sampled_from([True, False, "false", 0]),
    "expiresAt": st.sampled_from(
        ["2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "", "soon"]
    ),
    "maxUses": st.sampled_from([1, 0, 10**30, -1]),
    "password": st.sampled_from(["open sesame", "short", "x" * 201]),
    "metadata": st.sampled_from(
        [{}, {"a": "b"}, {" ": "x"}, {"a[b]": "c"}, {str(n): "v" for n in range(21)}]
    ),
    "confirmationMessage": st.sampled_from(["Thanks", "x" * 1001]),
    "redirectUrl": st.sampled_from(
        ["https://shop.example/{orderId}", "ftp://x", "", "javascript:1"]
    ),
    "quantity": st.just(2),
}


@pytest.fixture
def link_id(client, api_key):
    """A payment link of the api_key's provider."""
    response = client.post("/api/v1/payment-links", json={}, headers=bearer(api_key))
    return response.get_json()["id"]


@fuzz(150)
@given(
    body=st.fixed_dictionaries(
        {}, optional={name: values | json_values for name, values in LINK_CHANGES.items()}
    )
)
def test_update_payment_link_never_errors(client, api_key, link_id, body):
    response = client.patch(
        f"/api/v1/payment-links/{link_id}",
        data=json.dumps(body),  # Infinity included, as a careless encoder writes it
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.status_code in {200, 400, 422}, response.data
    assert response.is_json
    if response.status_code == 422:
        assert response.get_json()["param"] in body
