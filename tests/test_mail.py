"""E-mail through a real SMTP server (aiosmtpd, in this process, STARTTLS and a password),
one that refuses and one that is down and then comes back: every mail arrives once. Without
SMTP_URL mails are written as .eml files."""

import email
import json
import ssl
from email import policy
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import update

from checkout import config, tasks
from checkout.extensions import db
from checkout.records import Mail
from tests.helpers import csrf_token
from tests.plugins.servers import free_port

USER, PASSWORD = "kassa", "s3cret pass"


class Mailbox:
    """What the server received; `refuse` makes it answer every mail with a 550."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "550 Mailbox unavailable"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


class SmtpServer:
    """aiosmtpd on a free port, requiring STARTTLS (a trustme certificate) and a login."""

    def __init__(self, ca: trustme.CA, port: int):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.mailbox = Mailbox()
        self.port = port
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=_authenticate,
            auth_require_tls=True,
        )

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def certificate_authority(tmp_path, monkeypatch):
    """A CA the mail client trusts (OpenSSL reads SSL_CERT_FILE), as a real server's CA is."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return ca


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    url = f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{smtp_port}"
    return {
        "SMTP": config.smtp_settings({"SMTP_URL": url}),
        "MAIL_FROM": "Kassa Payments <pay@example.com>",
    }


@pytest.fixture
def smtp_server(certificate_authority, smtp_port):
    server = SmtpServer(certificate_authority, smtp_port).start()
    yield server
    server.stop()


def queue_test_mail(runner, address="ops@example.com") -> str:
    result = runner.invoke(args=["mail", "test", address, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["id"]


def outbox(runner) -> dict[str, dict]:
    result = runner.invoke(args=["mail", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.output)}


def send(app, mail_id: str) -> str | None:
    with app.app_context():
        return tasks.send_mail.call_local(mail_id)


def make_due(app, mail_id: str) -> None:
    """Let the next attempt's time come."""
    from checkout.models import utcnow

    with app.app_context():
        db.session.execute(update(Mail).where(Mail.id == mail_id).values(next_attempt_at=utcnow()))
        db.session.commit()


def test_a_mail_arrives_once_through_starttls_with_both_parts(app, runner, smtp_server):
    mail_id = queue_test_mail(runner)
    assert outbox(runner)[mail_id]["status"] == "pending"
    assert send(app, mail_id) == "sent"
    assert send(app, mail_id) is None  # sent already: nothing goes twice
    [received] = smtp_server.mailbox.messages
    assert received["To"] == "ops@example.com"
    assert received["From"] == "Kassa Payments <pay@example.com>"
    assert received["Subject"] == "Kassa test mail"
    assert mail_id in received["Message-ID"]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Kassa's e-mail works" in text and "Kassa's e-mail works" in html
    shown = outbox(runner)[mail_id]
    assert (shown["status"], shown["attempts"], shown["lastError"]) == ("sent", 1, None)


def test_a_refusing_server_is_retried_until_it_takes_the_mail(app, runner, smtp_server):
    smtp_server.mailbox.refuse = True
    mail_id = queue_test_mail(runner)
    assert send(app, mail_id) == "pending"
    assert "550" in outbox(runner)[mail_id]["lastError"]
    assert send(app, mail_id) is None  # not due yet
    smtp_server.mailbox.refuse = False
    make_due(app, mail_id)
    assert send(app, mail_id) == "sent"
    assert len(smtp_server.mailbox.messages) == 1
    assert outbox(runner)[mail_id]["attempts"] == 2


def test_a_server_that_is_down_gets_the_mail_once_it_is_back(
    app, runner, certificate_authority, smtp_port
):
    mail_id = queue_test_mail(runner)
    assert send(app, mail_id) == "pending"
    assert "Connection" in outbox(runner)[mail_id]["lastError"]
    server = SmtpServer(certificate_authority, smtp_port).start()
    try:
        make_due(app, mail_id)
        with app.app_context():
            app.config["OUTBOX_SWEEP_GRACE_SECONDS"] = 0
        swept = runner.invoke(args=["sweep-outbox", "--json"])
        assert json.loads(swept.output)["mails"] == 1
        assert send(app, mail_id) == "sent"
        assert send(app, mail_id) is None
        assert len(server.mailbox.messages) == 1
    finally:
        server.stop()


def test_a_wrong_password_is_an_error_the_outbox_shows(app, runner, smtp_server):
    app.config["SMTP"] = {**app.config["SMTP"], "password": "wrong"}
    mail_id = queue_test_mail(runner)
    assert send(app, mail_id) == "pending"
    shown = outbox(runner)[mail_id]
    assert "SMTPAuthenticationError" in shown["lastError"] and "wrong" not in shown["lastError"]
    assert smtp_server.mailbox.messages == []


class TestWithoutSmtp:
    @pytest.fixture
    def app_config(self):
        return {}

    def test_mails_are_written_as_eml_files(self, app, runner):
        mail_id = queue_test_mail(runner, "someone@example.com")
        assert send(app, mail_id) == "sent"
        [written] = (Path(app.config["INSTANCE_PATH"]) / "mail").glob(f"*{mail_id}*.eml")
        message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
        assert (message["To"], message["Subject"]) == ("someone@example.com", "Kassa test mail")
        assert outbox(runner)[mail_id]["status"] == "sent"

    def test_an_address_that_is_not_one_is_refused(self, runner):
        result = runner.invoke(args=["mail", "test", "nobody"])
        assert result.exit_code == 2 and "not an e-mail address" in result.output
        assert outbox(runner) == {}


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.com", "smtp://", "smtp://mail.example.com:99999", "smtp://h/path"],
)
def test_a_malformed_smtp_url_is_refused(url):
    with pytest.raises(config.ConfigError, match="SMTP_URL must look like"):
        config.smtp_settings({"SMTP_URL": url})


def test_a_malformed_sender_is_refused():
    with pytest.raises(config.ConfigError, match="MAIL_FROM is 'Kassa'"):
        config.mail_from({"MAIL_FROM": "Kassa"})


class TestAdminPages:
    @pytest.fixture
    def app_config(self):
        return {}

    def test_the_outbox_lists_each_mail_and_sends_one_again(self, app, runner, admin_client):
        mail_id = queue_test_mail(runner, "ops@example.com")
        listed = admin_client.get("/admin/mail")
        assert listed.status_code == 200
        assert "ops@example.com" in listed.text and "Kassa test mail" in listed.text
        assert "No <code>SMTP_URL</code> is set" in listed.text
        assert send(app, mail_id) == "sent"
        assert mail_id not in admin_client.get("/admin/mail?status=pending").text
        page = admin_client.get(f"/admin/mail/{mail_id}")
        assert page.status_code == 200 and "Kassa&#39;s e-mail works" in page.text
        resent = admin_client.post(
            f"/admin/mail/{mail_id}/resend",
            data={"csrf_token": csrf_token(page.text)},
            follow_redirects=True,
        )
        assert "Queued to be sent again." in resent.text
        assert outbox(runner)[mail_id]["status"] == "pending"
        assert send(app, mail_id) == "sent"
        assert len(list((Path(app.config["INSTANCE_PATH"]) / "mail").glob(f"*{mail_id}*"))) == 1
        audit = admin_client.get("/admin/audit", query_string={"subject_id": mail_id}).text
        assert "mail.resent" in audit

    def test_refusals(self, admin_client, runner):
        assert admin_client.get("/admin/mail?status=bounced").status_code == 422
        assert admin_client.get("/admin/mail/mail_nope").status_code == 404
        mail_id = queue_test_mail(runner)
        without_token = admin_client.post(f"/admin/mail/{mail_id}/resend")
        assert without_token.status_code == 400


class TestRetention:
    @pytest.fixture
    def app_config(self):
        return {"DELIVERY_LOG_DAYS": 30}

    def test_old_mails_keep_their_facts_not_their_text(self, app, runner):
        from datetime import timedelta

        from checkout.models import utcnow

        old, pending = queue_test_mail(runner), queue_test_mail(runner)
        assert send(app, old) == "sent"
        with app.app_context():
            db.session.execute(update(Mail).values(created_at=utcnow() - timedelta(days=31)))
            db.session.commit()
        result = runner.invoke(args=["retire-old", "--json"])
        assert json.loads(result.output)["forgottenMailBodies"] == 1  # not the pending one
        with app.app_context():
            kept = db.session.get(Mail, old)
            assert (kept.text_body, kept.html_body, kept.subject) == ("", None, "Kassa test mail")
            assert db.session.get(Mail, pending).text_body
