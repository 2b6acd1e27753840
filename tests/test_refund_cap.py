"""Refunds never add up to more than was paid, however many admins press Refund at once.

(Refunds Stripe reports beyond the paid amount are counted up to it: see
test_money_states.py::TestRefundsWithStripe::test_refunds_never_add_up_to_more_than_was_paid.)
"""

import re
import threading
from decimal import Decimal

from tests.helpers import api_order_json, api_paid_order, csrf_token, order_page


def refund_form(admin_client, order_id: str) -> dict:
    """A freshly rendered refund form's fields, as a second browser tab would send them."""
    page = admin_client.get(f"/admin/orders/{order_id}/refund").text  # the confirmation
    key = re.search(r'name="request_key" value="([^"]+)"', page)
    return {"csrf_token": csrf_token(page), "request_key": key[1]}


def refunds_listed(page: str) -> list[str]:
    return re.findall(r"Refund (sandbox_re_\w+) of \$[\d.]+", page)


def test_concurrent_refund_forms_never_refund_more_than_was_paid(admin_client, client, api_key):
    order_id = api_paid_order(client, api_key, "R-1", amount=15)
    forms = [refund_form(admin_client, order_id) for _ in range(6)]
    start = threading.Barrier(len(forms))
    answers = []

    def press(form):
        start.wait()
        response = admin_client.post(
            f"/admin/orders/{order_id}/refund", data={"amount": "5", **form}
        )
        answers.append((response.status_code, response.text))

    threads = [threading.Thread(target=press, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [302, 302, 302, 422, 422, 422]
    refused = [text for status, text in answers if status == 422]
    reasons = ("at most what is left to refund", "already fully refunded")
    assert all(any(reason in text for reason in reasons) for text in refused)
    page = order_page(admin_client, order_id)
    assert len(refunds_listed(page)) == 3
    assert "more than the" not in page
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "refunded" and body["refundedAmount"] == Decimal("15.00")


def test_a_refund_over_what_is_left_is_refused_and_changes_nothing(admin_client, client, api_key):
    order_id = api_paid_order(client, api_key, "R-2", amount=15)
    url = f"/admin/orders/{order_id}/refund"
    assert admin_client.post(url, data={"amount": "10", **refund_form(admin_client, order_id)})
    response = admin_client.post(
        url, data={"amount": "5.01", **refund_form(admin_client, order_id)}
    )
    assert response.status_code == 422
    assert "at most what is left to refund ($5.00)" in response.text
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "partially_refunded" and body["refundedAmount"] == Decimal("10.00")
    assert len(refunds_listed(order_page(admin_client, order_id))) == 1
