"""Passwords are stored as scrypt hashes; only the tests configure a cheaper method."""

from sqlalchemy import select

from checkout import config, passwords
from checkout.extensions import db
from checkout.models import Admin, PaymentLink
from tests.helpers import create_link, sign_in


def stored_admin_hash(app) -> str:
    with app.app_context():
        return db.session.scalar(select(Admin.password_hash))


def test_production_hashes_passwords_with_scrypt(app, client, make, tmp_path):
    """Without the tests' override, admins, links and the unknown-e-mail check use scrypt."""
    default = config.load({"KASSA_INSTANCE_PATH": str(tmp_path)})["PASSWORD_HASH_METHOD"]
    assert default == "scrypt"
    app.config["PASSWORD_HASH_METHOD"] = default
    email, password = make.admin()
    assert stored_admin_hash(app).startswith("scrypt:")
    assert sign_in(client, email, password).status_code == 302
    link_id = create_link(client, make.service(), password="open sesame")
    with app.app_context():
        assert db.session.get(PaymentLink, link_id).password_hash.startswith("scrypt:")
        assert passwords.dummy_hash().startswith("scrypt:")


def test_the_suite_hashes_passwords_cheaply(app, make):
    make.admin()
    assert stored_admin_hash(app).startswith("pbkdf2:sha256:1$")
    with app.app_context():
        assert passwords.dummy_hash().startswith("pbkdf2:sha256:1$")
