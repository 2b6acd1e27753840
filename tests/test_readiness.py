"""Liveness and readiness for load balancers, and what pages and the API answer while the
database cannot be reached: /healthz asks nothing of the database or the queue, /readyz
names what is down, and every other request answers 503 with Retry-After, not 500."""

import socket
import time

import pytest
import requests

from checkout import create_app
from tests.conftest import BASE_CONFIG
from tests.plugins.servers import WORKER_ENV, WebServer, free_port, wait_until

NO_ROW = "0" * 24
MISSING_LINK = f"/l/plink_{NO_ROW}"
READY = {"status": "ready", "checks": {"database": "ok", "queue": "ok"}}


def unreachable_database() -> str:
    """A PostgreSQL URL on a local port nothing listens on: every connection is refused."""
    return f"postgresql+psycopg://kassa@127.0.0.1:{free_port()}/kassa"


def app_without_database(**settings):
    """An app whose database refuses every connection."""
    return create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": unreachable_database(),
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            **settings,
        }
    )


@pytest.fixture
def database_down():
    """A test client of an app whose database refuses every connection."""
    return app_without_database().test_client()


def test_readiness_answers_ready_when_the_database_and_the_queue_answer(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == READY
    assert answer.headers["Cache-Control"] == "no-store"


def test_with_the_database_down_the_process_is_alive_but_not_ready(database_down):
    alive = database_down.get("/healthz")
    assert alive.status_code == 200
    assert alive.get_json() == {"status": "ok"}
    ready = database_down.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {
        "status": "unavailable",
        "checks": {"database": "down", "queue": "ok"},
    }
    assert ready.headers["Cache-Control"] == "no-store"


def test_a_database_that_never_answers_costs_the_probe_its_deadline():
    """A server that takes the connection and says nothing (a hung PostgreSQL)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        app = create_app(
            {
                **BASE_CONFIG,
                "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://kassa@127.0.0.1:{port}/kassa",
                "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 10}},
                "READY_TIMEOUT_SECONDS": 0.5,
            }
        )
        started = time.monotonic()
        answer = app.test_client().get("/readyz")
        took = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"database": "timeout", "queue": "ok"}
    assert took < 3, f"the probe took {took:.1f} s"
    assert app.test_client().get("/healthz").status_code == 200


def test_with_the_database_down_pages_answer_503_with_kassas_page(database_down):
    for path in (MISSING_LINK, f"/checkout?orderId=ord_{NO_ROW}"):
        answer = database_down.get(path)
        assert answer.status_code == 503, path
        assert answer.headers["Retry-After"] == "5"
        assert answer.mimetype == "text/html"
        page = answer.get_data(as_text=True)
        assert "Temporarily unavailable" in page
        assert "Please wait 5 seconds, then try again." in page
        assert answer.headers["X-Request-Id"] in page


def test_a_signed_in_admin_gets_the_503_page_while_the_database_is_down(app, admin_client):
    """Reading the admin's session needs the database: that read fails, not the page."""
    session = admin_client.get_cookie("session")
    assert admin_client.get("/admin/").status_code == 200
    down = app_without_database(SECRET_KEY=app.config["SECRET_KEY"]).test_client()
    down.set_cookie(session.key, session.value)
    answer = down.get("/admin/")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "5")
    assert "Temporarily unavailable" in answer.get_data(as_text=True)


def test_with_the_database_down_the_api_answers_503_in_its_error_shape(database_down):
    answer = database_down.get(
        "/api/v1/orders", headers={"Authorization": "Bearer kassa_" + "k" * 43}
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json() == {
        "error": "The database is unavailable: try again in a few seconds",
        "code": "database_unavailable",
        "param": None,
    }


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn on app:app with extra environment; it stops after the test."""
    started = []

    def start(**env) -> WebServer:
        server = WebServer({**WORKER_ENV, **env}, tmp_path / "web.log", workers=1)
        started.append(server)
        wait_until(lambda: _answers(server.url), message="gunicorn", timeout=30)
        return server

    yield start
    for server in started:
        server.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=30).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.multiprocess
def test_a_web_process_whose_database_is_down_starts_and_stays_alive(gunicorn):
    server = gunicorn(DATABASE_URL=unreachable_database())
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
    ready = requests.get(server.url + "/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "down", "queue": "ok"}
    page = requests.get(server.url + MISSING_LINK, timeout=30)
    assert (page.status_code, page.headers["Retry-After"]) == (503, "5")


@pytest.mark.multiprocess
def test_a_web_process_whose_redis_is_down_is_not_ready(gunicorn):
    server = gunicorn(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    ready = requests.get(server.url + "/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "queue": "down"}
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
