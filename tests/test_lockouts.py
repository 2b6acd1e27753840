"""Lockouts stop the client that guesses, never the owner elsewhere, and say when to retry."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from checkout.extensions import db
from checkout.models import PaymentLink
from checkout.passwords import hash_password
from checkout.records import ThrottleHit
from tests.helpers import bearer, create_link, csrf_token, sign_in

ATTACKER = "198.51.100.7"
OWNER = "203.0.113.5"


def client_at(app, address: str):
    """A browser whose requests come from this address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def backdate_attempts(app, minutes: int) -> None:
    """Move every counted attempt into the past, as if that much time had gone by."""
    with app.app_context():
        for hit in db.session.scalars(select(ThrottleHit)):
            hit.created_at -= timedelta(minutes=minutes)
        db.session.commit()


class TestAdminLogin:
    def test_wrong_passwords_lock_out_the_guessing_client_not_the_owner(self, app, make):
        email, password = make.admin()
        attacker = client_at(app, ATTACKER)
        for _ in range(5):
            assert sign_in(attacker, email, "not the password").status_code == 401
        locked = sign_in(attacker, email, password)
        assert locked.status_code == 429
        assert "Too many failed attempts. Try again in 15 minutes." in locked.text
        assert 895 <= int(locked.headers["Retry-After"]) <= 900
        assert attacker.get("/admin/").status_code == 302

        owner = client_at(app, OWNER)
        assert sign_in(owner, email, password).status_code == 302
        assert owner.get("/admin/").status_code == 200

    def test_forwarded_for_headers_neither_spread_nor_dodge_a_lockout(self, app, make):
        email, password = make.admin()
        attacker = client_at(app, ATTACKER)
        for number in range(5):
            attacker.environ_base["HTTP_X_FORWARDED_FOR"] = f"{OWNER}, 10.0.0.{number}"
            assert sign_in(attacker, email, "not the password").status_code == 401
        attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.99"
        assert sign_in(attacker, email, password).status_code == 429
        assert sign_in(client_at(app, OWNER), email, password).status_code == 302

    def test_random_emails_stop_that_client_but_no_admin_elsewhere(self, app, make):
        email, password = make.admin()
        attacker = client_at(app, ATTACKER)
        for number in range(20):
            response = sign_in(attacker, f"guess{number}@example.com", "whatever it is")
            assert response.status_code == 401
        locked = sign_in(attacker, email, password)
        assert locked.status_code == 429
        assert "Retry-After" in locked.headers
        assert sign_in(client_at(app, OWNER), email, password).status_code == 302

    def test_the_wait_counts_from_the_oldest_counted_attempt(self, app, make):
        email, password = make.admin()
        attacker = client_at(app, ATTACKER)
        for _ in range(5):
            sign_in(attacker, email, "not the password")
        backdate_attempts(app, 11)
        locked = sign_in(attacker, email, password)
        assert locked.status_code == 429
        assert "Try again in 4 minutes." in locked.text
        assert 235 <= int(locked.headers["Retry-After"]) <= 240
        backdate_attempts(app, 5)
        assert sign_in(attacker, email, password).status_code == 302

    def test_a_good_login_forgives_that_clients_earlier_typos(self, app, make):
        email, password = make.admin()
        owner = client_at(app, OWNER)
        for _ in range(4):
            assert sign_in(owner, email, "typo typo").status_code == 401
        assert sign_in(owner, email, password).status_code == 302
        for _ in range(4):
            assert sign_in(owner, email, "typo typo").status_code == 401
        assert sign_in(owner, email, password).status_code == 302


def unlock(client, link_id: str, password: str):
    """Submit a link's password form; returns the response."""
    token = csrf_token(client.get(f"/l/{link_id}").text)
    return client.post(f"/l/{link_id}/unlock", data={"password": password, "csrf_token": token})


class TestLinkPasswords:
    @pytest.fixture
    def link_ids(self, admin_client, make):
        service_id = make.service()
        return [
            create_link(admin_client, service_id, title=f"Sale {n}", password="open sesame")
            for n in range(5)
        ]

    def test_wrong_passwords_lock_that_link_for_that_client_only(self, app, link_ids):
        first, second = link_ids[:2]
        guesser = client_at(app, ATTACKER)
        for _ in range(5):
            assert unlock(guesser, first, "wrong guess").status_code == 401
        locked = unlock(guesser, first, "open sesame")
        assert locked.status_code == 429
        assert "Too many wrong passwords. Try again in 15 minutes." in locked.text
        assert 895 <= int(locked.headers["Retry-After"]) <= 900
        assert locked.headers["Cache-Control"] == "no-store"
        assert unlock(guesser, second, "open sesame").status_code == 303
        assert unlock(client_at(app, OWNER), first, "open sesame").status_code == 303

    def test_guessing_across_links_locks_the_client_out_of_every_link(self, app, link_ids):
        guesser = client_at(app, ATTACKER)
        for link_id in link_ids[:4]:
            for _ in range(5):
                assert unlock(guesser, link_id, "wrong guess").status_code == 401
        assert unlock(guesser, link_ids[4], "open sesame").status_code == 429
        assert unlock(client_at(app, OWNER), link_ids[4], "open sesame").status_code == 303


class TestLinkPasswordLength:
    def test_the_admin_form_refuses_fewer_than_8_characters(self, admin_client, make):
        service_id = make.service()
        page = admin_client.get("/admin/links/new")
        data = {"title": "Sale", "service_id": service_id, "quantity": "1", "password": "7 chars"}
        response = admin_client.post(
            "/admin/links/new", data={**data, "csrf_token": csrf_token(page.text)}
        )
        assert response.status_code == 422
        assert "between 8 and 200 characters" in response.text
        create_link(admin_client, service_id, password="8 chars!")

    def test_the_api_refuses_fewer_than_8_characters(self, client, make):
        service_id = make.service()
        key = make.provider(service_id=service_id).api_key
        body = {"title": "VIP", "password": "1234567"}
        response = client.post("/api/v1/payment-links", json=body, headers=bearer(key))
        assert response.status_code == 422
        assert "8 to 200 characters" in response.get_json()["error"]

    def test_the_cli_refuses_fewer_than_8_characters(self, runner, make):
        make.service(slug="credits")
        args = ["links", "create", "--service", "credits", "--json", "--password"]
        result = runner.invoke(args=[*args, "1234567"])
        assert result.exit_code == 1
        assert "8 to 200 characters" in json.loads(result.output)["error"]
        assert runner.invoke(args=[*args, "12345678"]).exit_code == 0

    def test_a_link_saved_with_a_short_password_still_opens(self, app, admin_client, make):
        link_id = create_link(admin_client, make.service(), password="open sesame")
        with app.app_context():
            # As saved before the 8-character minimum.
            db.session.execute(
                update(PaymentLink)
                .where(PaymentLink.id == link_id)
                .values(password_hash=hash_password("abcd"))
            )
            db.session.commit()
        assert unlock(app.test_client(), link_id, "abcd").status_code == 303
