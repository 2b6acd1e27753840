"""Receipts (issue 21): a paid order with the customer's e-mail gets a branded receipt in
their language, and each refund a mail of its own, through the outbox, written with the
change. A sandbox order's mails stay .eml files unless SANDBOX_EMAILS=smtp; then they go
through a real SMTP server (aiosmtpd with STARTTLS and a password, as tests/test_mail.py)."""

import email
import json
import re
from email import policy
from pathlib import Path

import pytest

from checkout import config, tasks
from tests.helpers import bearer, csrf_token, order_from, simulate
from tests.plugins.servers import free_port
from tests.test_mail import PASSWORD, USER, SmtpServer, certificate_authority  # noqa: F401


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def sandbox_emails() -> str:
    return "smtp"


@pytest.fixture
def app_config(smtp_port, sandbox_emails):
    url = f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{smtp_port}"
    return {
        "SMTP": config.smtp_settings({"SMTP_URL": url}),
        "MAIL_FROM": "Kassa Payments <pay@example.com>",
        "SANDBOX_EMAILS": sandbox_emails,
        "PUBLIC_BASE_URL": "https://pay.example.com",
    }


@pytest.fixture
def smtp_server(certificate_authority, smtp_port):  # noqa: F811
    server = SmtpServer(certificate_authority, smtp_port).start()
    yield server
    server.stop()


@pytest.fixture
def shop(make, app):
    service = make.service(title="Concert ticket", price="5")
    made = make.provider(
        service_id=service,
        name="Demo Shop",
        contact_email="help@shop.example",
        success_url="https://shop.example/thanks",
        cancel_url=None,
    )
    return made


def outbox(runner) -> list[dict]:
    result = runner.invoke(args=["mail", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def send_all(app, runner) -> None:
    """What the worker does: one attempt at each pending mail."""
    for row in outbox(runner):
        if row["status"] == "pending":
            with app.app_context():
                assert tasks.send_mail.call_local(row["id"]) == "sent"


def buy(client, key, quantity=3, language="en", email_address="ada@example.com", code=None) -> str:
    """A customer pays a link of 3 tickets, giving their e-mail (and a discount code); the
    order's id."""
    link = client.post(
        "/api/v1/payment-links",
        json={"title": "Spring concert", "quantity": quantity, "collectEmail": "optional"},
        headers=bearer(key),
    ).get_json()
    page = client.get(f"/l/{link['id']}", headers={"Accept-Language": language})
    answers = {"csrf_token": csrf_token(page.text), "email": email_address}
    if code is not None:
        answers["discount_code"] = code
    pay = client.post(f"/l/{link['id']}/pay", data=answers, headers={"Accept-Language": language})
    order_id = order_from(pay)
    assert simulate(client, order_id).status_code == 303
    return order_id


def body(message, kind: str) -> str:
    return message.get_body((kind,)).get_content()


def test_a_paid_order_gets_a_receipt_with_what_was_bought(app, client, runner, shop, smtp_server):
    order_id = buy(client, shop.api_key)
    [queued] = outbox(runner)  # written with the paid transition, before any worker ran
    assert (queued["kind"], queued["to"]) == ("receipt", "ada@example.com")
    send_all(app, runner)
    [received] = smtp_server.mailbox.messages
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Receipt from Demo Shop: $15.00"
    text, html = body(received, "plain"), body(received, "html")
    for part in (text, html):
        for fact in ("Spring concert", "$15.00", order_id, "Demo Shop", "help@shop.example"):
            assert fact in part
        assert "https://shop.example/" in part
        assert f"https://pay.example.com/checkout?orderId={order_id}" in part
    assert re.search(r"Paid: \w{3} \d+, \d{4}, .+ UTC", text)
    assert 'lang="en"' in html
    # Paid once: nothing more is queued when the page is shown again.
    client.get(f"/checkout?orderId={order_id}")
    assert len(outbox(runner)) == 1


def test_a_discounted_receipt_shows_the_discount_and_the_amount_paid(
    app, client, runner, shop, smtp_server
):
    made = client.post(
        "/api/v1/discount-codes",
        json={"code": "SPRING", "percentOff": 20},
        headers=bearer(shop.api_key),
    )
    assert made.status_code == 201, made.get_json()
    buy(client, shop.api_key, code="spring")
    send_all(app, runner)
    [received] = smtp_server.mailbox.messages
    assert received["Subject"] == "Receipt from Demo Shop: $12.00"  # $15.00 less 20 %
    for part in (body(received, "plain"), body(received, "html")):
        assert "−$3.00" in part


def test_the_receipt_is_in_the_customers_language(app, client, runner, shop, smtp_server):
    buy(client, shop.api_key, language="de-DE,de;q=0.9")
    send_all(app, runner)
    [received] = smtp_server.mailbox.messages
    assert received["Subject"] == "Beleg von Demo Shop: 15,00\xa0$"
    html = body(received, "html")
    assert 'lang="de"' in html and "Vielen Dank für Ihre Zahlung." in html
    assert "Bestellnummer" in body(received, "plain")


def test_each_refund_gets_its_own_mail(app, client, runner, shop, smtp_server):
    order_id = buy(client, shop.api_key)
    key = shop.api_key
    partial = client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount": 5},
                          headers=bearer(key))  # fmt: skip
    assert partial.status_code in (200, 201), partial.get_json()
    rest = client.post(f"/api/v1/orders/{order_id}/refunds", json={}, headers=bearer(key))
    assert rest.status_code in (200, 201), rest.get_json()
    kinds = [row["kind"] for row in reversed(outbox(runner))]
    assert kinds == ["receipt", "refund", "refund"]
    send_all(app, runner)
    subjects = sorted(message["Subject"] for message in smtp_server.mailbox.messages)
    assert subjects == [
        "Receipt from Demo Shop: $15.00",
        "Refund from Demo Shop: $10.00",
        "Refund from Demo Shop: $5.00",
    ]
    last = next(m for m in smtp_server.mailbox.messages if "$10.00" in m["Subject"])
    assert "Refunded in all: $15.00" in body(last, "plain")


def test_no_email_no_receipt(app, client, runner, shop, smtp_server):
    link = client.post(
        "/api/v1/payment-links", json={"title": "T"}, headers=bearer(shop.api_key)
    ).get_json()
    page = client.get(f"/l/{link['id']}")
    order_id = order_from(client.post(f"/l/{link['id']}/pay",
                                      data={"csrf_token": csrf_token(page.text)}))  # fmt: skip
    simulate(client, order_id)
    assert outbox(runner) == []


def test_an_email_the_provider_sent_gets_the_receipt(app, client, runner, shop, smtp_server):
    opened = client.post(
        "/api/v1/create-payment-intent",
        json={"customerEmail": "bo@example.com"},
        headers=bearer(shop.api_key),
    ).get_json()
    simulate(client, opened["orderId"])
    [queued] = outbox(runner)
    assert queued["to"] == "bo@example.com" and "$5.00" in queued["subject"]


class TestSandboxMailsStayHere:
    @pytest.fixture
    def sandbox_emails(self):
        return "file"

    def test_a_sandbox_receipt_is_a_file_and_never_reaches_the_server(
        self, app, client, runner, shop, smtp_server
    ):
        buy(client, shop.api_key)
        [queued] = outbox(runner)
        send_all(app, runner)
        assert smtp_server.mailbox.messages == []
        [written] = (Path(app.config["INSTANCE_PATH"]) / "mail").glob(f"*{queued['id']}*.eml")
        message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
        assert message["Subject"] == "Receipt from Demo Shop: $15.00"
        # Other mails still go through SMTP_URL.
        test_mail = runner.invoke(args=["mail", "test", "ops@example.com", "--json"])
        with app.app_context():
            assert tasks.send_mail.call_local(json.loads(test_mail.output)["id"]) == "sent"
        assert len(smtp_server.mailbox.messages) == 1


def test_sandbox_emails_takes_file_or_smtp_only():
    assert config.sandbox_emails({}) == "file"
    assert config.sandbox_emails({"SANDBOX_EMAILS": "SMTP"}) == "smtp"
    with pytest.raises(config.ConfigError, match="SANDBOX_EMAILS is 'always': use file or smtp"):
        config.sandbox_emails({"SANDBOX_EMAILS": "always"})
