"""Every answer carries X-Request-Id, the id its log lines carry: a trusted proxy's, when
it is sane and the request came through the proxy, else one Kassa makes."""

import re

import pytest

GENERATED = re.compile(r"[0-9a-f]{32}")
THROUGH_PROXY = {"REMOTE_ADDR": "10.0.0.2"}
FORWARDED = {"X-Forwarded-For": "203.0.113.9"}


def request_id(answer) -> str:
    return answer.headers["X-Request-Id"]


def test_an_answer_without_an_incoming_id_gets_a_new_one_each_time(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert GENERATED.fullmatch(request_id(first))
    assert GENERATED.fullmatch(request_id(second))
    assert request_id(first) != request_id(second)


def test_without_trusted_proxies_a_clients_id_is_replaced(client):
    answer = client.get("/healthz", headers={"X-Request-Id": "chosen-by-client", **FORWARDED})
    assert GENERATED.fullmatch(request_id(answer))


class TestBehindATrustedProxy:
    @pytest.fixture
    def app_config(self):
        return {"TRUSTED_PROXIES": 1}

    def test_the_proxys_id_is_kept(self, client):
        headers = {"X-Request-Id": "lb-7f3a.9_X", **FORWARDED}
        answer = client.get("/healthz", headers=headers, environ_base=THROUGH_PROXY)
        assert request_id(answer) == "lb-7f3a.9_X"

    def test_a_request_that_did_not_come_through_the_proxy_gets_a_new_id(self, client):
        # No X-Forwarded-For: the proxy did not forward it, whoever connected sent the id.
        answer = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a"})
        assert GENERATED.fullmatch(request_id(answer))

    @pytest.mark.parametrize(
        "incoming", ["a b", "x" * 201, "<script>", "id\u00e9", "line\\nbreak", "a,b", ""]
    )
    def test_an_id_that_is_not_sane_is_replaced(self, client, incoming):
        headers = {"X-Request-Id": incoming, **FORWARDED}
        answer = client.get("/healthz", headers=headers, environ_base=THROUGH_PROXY)
        assert GENERATED.fullmatch(request_id(answer))

    def test_an_id_of_200_characters_is_kept(self, client):
        headers = {"X-Request-Id": "a" * 200, **FORWARDED}
        answer = client.get("/healthz", headers=headers, environ_base=THROUGH_PROXY)
        assert request_id(answer) == "a" * 200


def test_a_404_page_shows_the_id_it_answers_with(client):
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert f"<code data-request-id>{request_id(answer)}</code>" in answer.get_data(as_text=True)


def test_api_errors_pages_and_static_files_carry_the_id(client):
    for path, status in [
        ("/api/v1/orders", 401),
        ("/api/v1/nothing", 404),
        ("/", 200),
        ("/static/kassa.css", 200),
        ("/webhooks/stripe", 405),
    ]:
        answer = client.get(path)
        assert answer.status_code == status, path
        assert GENERATED.fullmatch(request_id(answer)), path


def test_an_error_of_the_app_carries_the_id_on_its_page(app, client):
    @app.get("/_boom")
    def _boom():
        raise RuntimeError("boom")

    answer = client.get("/_boom")
    assert answer.status_code == 500
    assert request_id(answer) in answer.get_data(as_text=True)
