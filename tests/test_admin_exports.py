"""The orders page's search, and CSV exports of the filtered orders and deliveries."""

import csv
import io
import re
from datetime import timedelta

import sqlalchemy as sa

from checkout.extensions import db
from checkout.models import Order, utcnow
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_paid_order,
    create_link,
    order_from,
    pay_link,
)


def listed(admin_client, **args) -> list[str]:
    response = admin_client.get("/admin/orders", query_string=args)
    assert response.status_code == 200
    return re.findall(r'href="/admin/orders/(ord_\w+)"', response.text)


def exported(admin_client, url: str, **args) -> list[dict]:
    response = admin_client.get(url, query_string=args)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_search_finds_orders_by_id_external_id_or_link_id_and_their_prefixes(
    admin_client, client, make
):
    service_id = make.service()
    key = make.provider(service_id=service_id).api_key
    first = api_paid_order(client, key, "INV-100", amount=5)
    second = api_new_order(client, key, externalId="INV-200", amount=5)
    other = api_new_order(client, key, externalId="X%_1", amount=5)
    link_id = create_link(admin_client, service_id)
    from_link = order_from(pay_link(client, link_id))

    assert set(listed(admin_client, q="INV-")) == {first, second}
    assert listed(admin_client, q="INV-100") == [first]
    assert listed(admin_client, q=first) == [first]
    assert listed(admin_client, q=first[:10]) == [first]
    assert listed(admin_client, q=f"  {second}  ") == [second]
    assert listed(admin_client, q=link_id) == [from_link]
    assert listed(admin_client, q=link_id[:8]) == [from_link]
    # LIKE's wildcards are searched for as themselves.
    assert listed(admin_client, q="X%") == [other]
    assert listed(admin_client, q="%") == []
    assert listed(admin_client, q="_") == []
    # The other filters still apply.
    assert listed(admin_client, q="INV-", status="paid") == [first]
    assert listed(admin_client, q="nothing-like-it") == []
    page = admin_client.get("/admin/orders", query_string={"q": "INV-"}).text
    assert 'name="q"' in page and 'value="INV-"' in page
    assert 'href="/admin/orders.csv?q=INV-"' in page


def test_orders_export_is_the_filtered_list_with_exact_amounts(admin_client, client, make):
    dollars = make.provider(service_id=make.service(price="2.50")).api_key
    yen_service = make.service(currency="jpy", price="500", title="Yen")
    yen = make.provider(service_id=yen_service, name="Tokyo").api_key
    paid = api_paid_order(client, dollars, "A-1", amount=12.5)
    api_new_order(client, dollars, externalId="A-2", amount=5)
    yen_order = api_paid_order(client, yen, "Y-1", amount=1500)

    response = admin_client.get("/admin/orders.csv", query_string={"status": "paid"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    day = utcnow().strftime("%Y%m%d")
    assert response.headers["Content-Disposition"] == f"attachment; filename=orders-{day}.csv"
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_id = {row["order_id"]: row for row in rows}
    assert set(by_id) == {paid, yen_order}
    assert by_id[paid]["currency"] == "USD" and by_id[paid]["amount"] == "12.50"
    assert by_id[paid]["paid_amount"] == "12.50" and by_id[paid]["refunded_amount"] == "0.00"
    assert by_id[yen_order]["currency"] == "JPY" and by_id[yen_order]["amount"] == "1500"
    assert by_id[paid]["external_id"] == "A-1" and by_id[paid]["provider"] == "Bitloader"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_id[paid]["paid_at"])


def test_export_cells_cannot_become_spreadsheet_formulas(admin_client, client, make):
    key = make.provider().api_key
    risky = ['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", 'a,b "quoted"']
    for external_id in risky:
        api_new_order(client, key, externalId=external_id, amount=5)
    text = admin_client.get("/admin/orders.csv").get_data(as_text=True)
    values = {row["external_id"] for row in csv.DictReader(io.StringIO(text))}
    assert values == {
        '\'=HYPERLINK("http://evil")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        'a,b "quoted"',
    }
    assert '"a,b ""quoted"""' in text


# Where a spreadsheet that splits on another separator (a semicolon in much of Europe, a
# tab) than the file's commas could start a cell: the piece after any separator, past
# spaces and quotes. None may begin a formula.
CELL_STARTS = re.compile(r'(?:^|[,;\t\r\n])[ "]*([=+\-@])', re.M)


def test_export_cells_cannot_start_a_formula_after_a_separator(admin_client, client, make):
    key = make.provider().api_key
    risky = ["csv;=cmd|' /C calc'!A0", "a,+1", "x, -2", 'ok; "@SUM(A1)"', "plain; text"]
    for external_id in risky:
        api_new_order(client, key, externalId=external_id, amount=5)

    text = admin_client.get("/admin/orders.csv").get_data(as_text=True)

    values = {row["external_id"] for row in csv.DictReader(io.StringIO(text))}
    assert values == {
        "csv;'=cmd|' /C calc'!A0",
        "a,'+1",
        "x,' -2",
        'ok;\' "@SUM(A1)"',
        "plain; text",
    }
    assert CELL_STARTS.findall(text) == []
    # Every cell is quoted, so a reader that knows the file's separator keeps it whole.
    for line in text.splitlines():
        assert re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', line), line


def test_a_large_export_streams_every_order_once(app, admin_client, client, make):
    key = make.provider().api_key
    template = api_new_order(client, key, externalId="BULK-0", amount=5)
    with app.app_context():
        row = db.session.get(Order, template)
        columns = {attr.key: getattr(row, attr.key) for attr in sa.inspect(Order).column_attrs}
        start = utcnow() - timedelta(days=1)
        copies = [
            {
                **columns,
                "id": f"ord_{number:024x}",
                "external_id": f"BULK-{number}",
                # Many share a moment, so paging must go by id too.
                "created_at": start + timedelta(seconds=number // 7),
                "stripe_payment_intent_id": None,
            }
            for number in range(1, 5000)
        ]
        db.session.execute(sa.insert(Order), copies)
        db.session.commit()

    response = admin_client.get("/admin/orders.csv")
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) > 10
    rows = list(csv.DictReader(io.StringIO("".join(_text(chunk) for chunk in chunks))))
    assert len(rows) == 5000
    assert len({row["order_id"] for row in rows}) == 5000
    assert rows[0]["order_id"] == template  # newest first, as the list shows them
    assert rows[-1]["external_id"] == "BULK-1"


def _text(chunk) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def test_deliveries_export_counts_attempts_and_keeps_the_filters(admin_client, client, make):
    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    paid = api_paid_order(client, key, "D-1", amount=5)
    response = admin_client.get("/admin/deliveries.csv", query_string={"status": "pending"})
    assert response.status_code == 200
    day = utcnow().strftime("%Y%m%d")
    assert response.headers["Content-Disposition"] == f"attachment; filename=deliveries-{day}.csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["order_id"], row["event"], row["attempts"]) for row in rows] == [
        (paid, "payment_succeeded", "0")
    ]
    assert exported(admin_client, "/admin/deliveries.csv", status="failed") == []
    page = admin_client.get("/admin/deliveries", query_string={"status": "pending"}).text
    assert 'href="/admin/deliveries.csv?status=pending"' in page


def test_bad_filters_export_nothing(admin_client):
    assert admin_client.get("/admin/orders.csv?date_from=yesterday").status_code == 422
    assert admin_client.get("/admin/orders.csv?status=lost").status_code == 422
    assert admin_client.get("/admin/deliveries.csv?status=lost").status_code == 422
    assert admin_client.get("/admin/orders?q=" + "x" * 300).status_code == 422


def test_exports_need_sign_in(client):
    for url in ("/admin/orders.csv", "/admin/deliveries.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
