"""GET /api/v1/orders…: a provider sees its own orders and nobody else's."""

import pytest

from tests.helpers import api_open_order, bearer, error_body, simulate


def test_get_order_by_id(client, api_key):
    created = api_open_order(client, api_key, externalId="E-1", amount=10).get_json()
    response = client.get(f"/api/v1/orders/{created['orderId']}", headers=bearer(api_key))
    assert response.status_code == 200
    assert response.get_json() == created


def test_get_order_by_external_id(client, api_key):
    created = api_open_order(client, api_key, externalId="E-1").get_json()
    api_open_order(client, api_key, externalId="E-2")
    response = client.get("/api/v1/orders?externalId=E-1", headers=bearer(api_key))
    assert response.status_code == 200
    assert response.get_json() == {"data": [created], "hasMore": False}


def test_other_providers_orders_are_404(client, make):
    service_id = make.service()
    key_a = make.provider(service_id=service_id, name="A").api_key
    key_b = make.provider(service_id=service_id, name="B").api_key
    order_id = api_open_order(client, key_a, externalId="E-1").get_json()["orderId"]
    response = client.get(f"/api/v1/orders/{order_id}", headers=bearer(key_b))
    assert response.status_code == 404
    assert response.get_json() == error_body("Order not found", "not_found")
    listed = client.get("/api/v1/orders?externalId=E-1", headers=bearer(key_b)).get_json()
    assert listed == {"data": [], "hasMore": False}


@pytest.mark.parametrize(
    "order_id", ["ord_doesnotexist", "ord_" + "0" * 24, "x" * 300, "' or 1=1 --", "ORD_ABC"]
)
def test_unknown_or_malformed_order_ids_are_404(client, api_key, order_id):
    response = client.get(f"/api/v1/orders/{order_id}", headers=bearer(api_key))
    assert response.status_code == 404


def test_nul_bytes_anywhere_are_400(client, api_key):
    headers = bearer(api_key)
    assert client.get("/api/v1/orders/ord_%00", headers=headers).status_code == 400
    assert client.get("/api/v1/orders?externalId=a%00b", headers=headers).status_code == 400
    assert client.get("/checkout?orderId=%00").status_code == 400


def test_body_key_is_not_accepted_on_get(client, api_key):
    order_id = api_open_order(client, api_key).get_json()["orderId"]
    assert client.get(f"/api/v1/orders/{order_id}").status_code == 401
    assert client.get("/api/v1/orders").status_code == 401


def test_listing_pages_newest_first(client, api_key):
    ids = [
        api_open_order(client, api_key, externalId=f"E-{n}").get_json()["orderId"] for n in range(5)
    ]
    first = client.get("/api/v1/orders?limit=2", headers=bearer(api_key)).get_json()
    assert [row["orderId"] for row in first["data"]] == ids[::-1][:2]
    assert first["hasMore"] is True
    cursor = first["data"][-1]["orderId"]
    rest = client.get(
        f"/api/v1/orders?limit=10&startingAfter={cursor}", headers=bearer(api_key)
    ).get_json()
    assert [row["orderId"] for row in rest["data"]] == ids[::-1][2:]
    assert rest["hasMore"] is False


def test_listing_filters_by_status(client, api_key):
    order_id = api_open_order(client, api_key, externalId="E-1").get_json()["orderId"]
    api_open_order(client, api_key, externalId="E-2")
    assert client.get(f"/checkout?orderId={order_id}").status_code == 200
    simulate(client, order_id)
    paid = client.get("/api/v1/orders?status=paid", headers=bearer(api_key)).get_json()
    assert [row["orderId"] for row in paid["data"]] == [order_id]
    assert paid["data"][0]["paidAt"] is not None


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "status=bogus", "startingAfter=ord_nope", "externalId="],
)
def test_bad_list_parameters_are_422(client, api_key, query):
    response = client.get(f"/api/v1/orders?{query}", headers=bearer(api_key))
    assert response.status_code == 422
    assert "error" in response.get_json()
