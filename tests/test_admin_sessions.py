"""Admin sessions end on logout, password change, removal and idleness; `next` stays on site."""

import re
import time
from urllib.parse import quote, urljoin, urlsplit

import pytest
from flask_login.utils import encode_cookie
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers import csrf_token, form_post, sign_in

SECOND_EMAIL = "second@example.com"


def copy_session(app, source):
    """Another browser holding a copy of this browser's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session").value)
    return thief


def log_out(client):
    token = csrf_token(client.get("/admin/").text)
    return client.post("/admin/logout", data={"csrf_token": token})


def change_password(client, current, new, repeat=None):
    fields = {"current_password": current, "new_password": new, "repeat_password": repeat or new}
    return form_post(client, "/admin/password", fields)


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


class TestRevocation:
    def test_a_copied_cookie_stops_working_after_logout(self, app, admin_client):
        thief = copy_session(app, admin_client)
        assert signed_in(thief)
        assert log_out(admin_client).status_code == 302
        assert not signed_in(admin_client)
        response = thief.get("/admin/")
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]

    def test_logout_ends_the_admins_sessions_in_other_browsers(self, app, make):
        email, password = make.admin()
        laptop, phone = app.test_client(), app.test_client()
        sign_in(laptop, email, password)
        sign_in(phone, email, password)
        log_out(laptop)
        assert not signed_in(phone)
        assert sign_in(phone, email, password).status_code == 302
        assert signed_in(phone)

    def test_password_change_ends_other_sessions_and_keeps_this_one(self, app, make):
        email, password = make.admin()
        laptop, phone = app.test_client(), app.test_client()
        sign_in(laptop, email, password)
        sign_in(phone, email, password)
        copied = copy_session(app, laptop)
        response = change_password(laptop, password, "a brand new secret")
        assert response.status_code == 302
        assert "Password changed" in laptop.get(response.headers["Location"]).text
        assert signed_in(laptop)
        assert not signed_in(phone)
        assert not signed_in(copied)
        fresh = app.test_client()
        assert sign_in(fresh, email, password).status_code == 401
        assert sign_in(fresh, email, "a brand new secret").status_code == 302

    @pytest.mark.parametrize(
        ("current", "new", "repeat", "message"),
        [
            ("wrong current pw", "a brand new secret", None, "not your current password"),
            ("correct horse battery", "short", None, "at least 10 characters"),
            ("correct horse battery", "a brand new secret", "another secret", "differ"),
        ],
    )
    def test_a_refused_password_change_changes_nothing(
        self, app, admin_client, current, new, repeat, message
    ):
        other = copy_session(app, admin_client)
        response = change_password(admin_client, current, new, repeat)
        assert response.status_code == 422
        assert message in response.text
        assert signed_in(other)
        assert (
            sign_in(app.test_client(), "admin@example.com", "correct horse battery").status_code
            == 302
        )

    def test_wrong_current_passwords_are_limited_like_sign_ins(self, app, admin_client):
        for _ in range(5):
            response = change_password(admin_client, "a wrong guess", "a brand new secret")
            assert response.status_code == 422
        refused = change_password(admin_client, "correct horse battery", "a brand new secret")
        assert refused.status_code == 429
        assert "Too many wrong passwords. Try again in 15 minutes." in refused.text
        assert 895 <= int(refused.headers["Retry-After"]) <= 900
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.5"
        assert sign_in(elsewhere, "admin@example.com", "correct horse battery").status_code == 302

    def test_a_session_from_before_session_versions_is_signed_out(self, admin_client):
        with admin_client.session_transaction() as session:
            session["_user_id"] = session["_user_id"].split(":")[0]
        assert not signed_in(admin_client)

    def test_a_remember_cookie_opens_nothing(self, app, make):
        make.admin()
        browser = app.test_client()
        with app.test_request_context():
            browser.set_cookie("remember_token", encode_cookie("1:1"))
        response = browser.get("/admin/")
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]


class TestIdleTimeout:
    @pytest.fixture
    def app_config(self):
        return {"ADMIN_SESSION_IDLE_MINUTES": 5}

    def last_seen(self, client, seconds_ago=None):
        with client.session_transaction() as session:
            if seconds_ago is not None:
                session["admin_seen"] = int(time.time()) - seconds_ago
            return session.get("admin_seen")

    def test_an_idle_session_is_signed_out(self, admin_client):
        self.last_seen(admin_client, seconds_ago=5 * 60 + 5)
        response = admin_client.get("/admin/")
        assert response.status_code == 302
        page = admin_client.get(response.headers["Location"]).text
        assert "signed out after 5 minutes without activity" in page
        assert not signed_in(admin_client)

    def test_activity_keeps_the_session_alive(self, admin_client):
        self.last_seen(admin_client, seconds_ago=4 * 60)
        assert signed_in(admin_client)
        assert self.last_seen(admin_client) >= int(time.time()) - 2

    def test_the_cookie_is_not_rewritten_on_every_request(self, admin_client):
        assert signed_in(admin_client)
        response = admin_client.get("/admin/")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers

    def test_a_session_without_a_last_seen_time_is_signed_out(self, admin_client):
        with admin_client.session_transaction() as session:
            del session["admin_seen"]
        assert not signed_in(admin_client)


class TestAdmins:
    def test_the_list_shows_every_admin(self, admin_client, make):
        make.admin(SECOND_EMAIL, "second admin pw")
        page = admin_client.get("/admin/admins").text
        assert "admin@example.com" in page and SECOND_EMAIL in page
        assert "never" in page
        assert 'href="/admin/admins"' in admin_client.get("/admin/").text

    def test_removing_an_admin_ends_their_sessions(self, app, admin_client, make):
        make.admin(SECOND_EMAIL, "second admin pw")
        second = app.test_client()
        sign_in(second, SECOND_EMAIL, "second admin pw")
        assert signed_in(second)
        page = admin_client.get("/admin/admins").text
        action = re.search(r'href="(/admin/admins/\d+/remove)"', page)[1]
        response = admin_client.post(action, data={"csrf_token": csrf_token(page)})
        assert response.status_code == 302
        assert f"Admin {SECOND_EMAIL} removed." in admin_client.get("/admin/admins").text
        assert not signed_in(second)
        assert sign_in(second, SECOND_EMAIL, "second admin pw").status_code == 401

    def test_no_admin_removes_themself(self, admin_client):
        page = admin_client.get("/admin/admins").text
        assert "/remove" not in page
        response = admin_client.post(
            "/admin/admins/1/remove", data={"csrf_token": csrf_token(page)}
        )
        assert response.status_code == 302
        assert "You cannot remove yourself" in admin_client.get("/admin/admins").text
        assert signed_in(admin_client)

    def test_removal_needs_the_form_token(self, app, admin_client, make):
        make.admin(SECOND_EMAIL, "second admin pw")
        assert admin_client.post("/admin/admins/2/remove").status_code == 400
        assert SECOND_EMAIL in admin_client.get("/admin/admins").text

    def test_removing_an_unknown_admin_is_404(self, admin_client):
        token = csrf_token(admin_client.get("/admin/admins").text)
        assert (
            admin_client.post("/admin/admins/99/remove", data={"csrf_token": token}).status_code
            == 404
        )


def login_with_next(client, email, password, query: str):
    token = csrf_token(client.get("/admin/login").text)
    return client.post(
        f"/admin/login?{query}", data={"email": email, "password": password, "csrf_token": token}
    )


def assert_stays_on_site(response, nul: bool):
    if nul:  # Kassa refuses any request holding a NUL before it reaches the view
        assert response.status_code == 400
        return
    assert response.status_code in {301, 302, 303, 307, 308}, response.status_code
    target = urljoin("http://localhost/admin/login", response.headers["Location"])
    assert urlsplit(target).netloc == "localhost", response.headers["Location"]


class TestNext:
    @pytest.mark.parametrize(
        ("query", "location"),
        [
            ("next=/%09/evil.example", "/admin/"),
            ("next=/%0A/x", "/admin/"),
            ("next=/%0D%0ASet-Cookie:%20x=1", "/admin/"),
            ("next=%5C%5Cevil", "/admin/"),
            ("next=/%5Cevil", "/admin/"),
            ("next=https://evil", "/admin/"),
            ("next=//evil", "/admin/"),
            ("next=/%2F%2Fevil", "/admin/"),  # the query decodes to ///evil
            ("next=/%252F%252Fevil", "/%2F%2Fevil"),  # a path on this site
            ("next=javascript:alert(1)", "/admin/"),
            ("next=/%E2%80%A8/evil", "/admin/"),
            ("next=", "/admin/"),
            ("next=/admin/orders?status=paid", "/admin/orders?status=paid"),
            ("next=/admin/orders%3Fstatus%3Dpaid", "/admin/orders?status=paid"),
            ("next=/admin/caf%C3%A9", "/admin/caf%C3%A9"),
        ],
    )
    def test_next_is_only_a_path_on_this_site(self, client, make, query, location):
        email, password = make.admin()
        response = login_with_next(client, email, password, query)
        assert response.status_code == 302
        assert response.headers["Location"] == location

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        target=st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
        | st.text(st.characters(exclude_categories=("Cs",)), max_size=30).map(lambda t: "/" + t)
        | st.binary(max_size=20).map(lambda raw: "/" + raw.decode("latin-1"))
    )
    @example("/\t/evil.example")
    @example("/\n/x")
    @example("/\\evil")
    def test_any_next_answers_a_redirect_on_this_site(self, client, make, target):
        if not vars(client).get("admin"):
            vars(client)["admin"] = make.admin()
        email, password = vars(client)["admin"]
        response = login_with_next(client, email, password, "next=" + quote(target, safe=""))
        assert_stays_on_site(response, nul="\x00" in target)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(raw=st.binary(max_size=24))
    def test_any_raw_query_answers_a_redirect_on_this_site(self, client, make, raw):
        if not vars(client).get("admin"):
            vars(client)["admin"] = make.admin()
        email, password = vars(client)["admin"]
        query = "next=" + "".join(f"%{byte:02X}" for byte in b"/" + raw)
        response = login_with_next(client, email, password, query)
        assert_stays_on_site(response, nul=0 in raw)
