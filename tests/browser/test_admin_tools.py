"""The admin in Chromium: copy buttons, the link form's fields, confirmation pages, and a
notification page that shows its attempt."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from checkout import audit, notifications, payment_links
from checkout.payment_links import LinkFields
from tests.helpers import UNREACHABLE_HOOK

pytestmark = pytest.mark.browser


def signed_in(page: Page, live_server, make) -> None:
    email, password = make.admin()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def a_link(app, make) -> str:
    service_id = make.service(title="Ticket", price="12.50")
    with app.app_context():
        return payment_links.create_link(
            LinkFields(service_id=service_id, title="Festival tickets"), actor=audit.SYSTEM
        ).id


def test_copy_buttons_put_the_value_on_the_clipboard(page: Page, app, live_server, make):
    link_id = a_link(app, make)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    signed_in(page, live_server, make)
    page.goto(f"{live_server.url}/admin/links/{link_id}")

    button = page.locator('[data-copy="link-url"]')
    button.click()
    expect(button).to_have_text("Copied")
    url = page.locator("[data-link-url]").input_value()
    assert url.endswith(f"/l/{link_id}")
    assert page.evaluate("navigator.clipboard.readText()") == url

    page.get_by_role("button", name="Copy snippet").click()
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet.startswith("<script src=") and f'data-payment-link="{link_id}"' in snippet
    expect(page.get_by_role("button", name="Duplicate")).to_be_visible()


def test_without_the_clipboard_api_copy_selects_the_value(page: Page, app, live_server, make):
    link_id = a_link(app, make)
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    signed_in(page, live_server, make)
    page.goto(f"{live_server.url}/admin/links/{link_id}")
    page.get_by_role("button", name="Copy link").click()
    selected = page.evaluate(
        "(() => { const input = document.getElementById('link-url');"
        " return document.activeElement === input"
        " && input.selectionEnd - input.selectionStart === input.value.length; })()"
    )
    assert selected


def test_the_link_form_shows_only_the_fields_that_apply(page: Page, live_server, make):
    make.service()
    signed_in(page, live_server, make)
    page.goto(f"{live_server.url}/admin/links/new")

    message, redirect = page.get_by_label("Confirmation message"), page.get_by_label("Redirect URL")
    expect(message).to_be_visible()
    expect(redirect).to_be_hidden()
    page.get_by_label("After payment").select_option("redirect")
    expect(redirect).to_be_visible()
    expect(message).to_be_hidden()

    quantity, smallest = (
        page.get_by_label("Quantity", exact=True),
        page.get_by_label("Smallest quantity"),
    )
    expect(quantity).to_be_visible()
    expect(smallest).to_be_hidden()
    page.get_by_label("Customers choose the quantity").check()
    expect(quantity).to_be_hidden()
    expect(smallest).to_be_visible()
    expect(page.get_by_label("Largest quantity")).to_be_visible()

    expect(page.locator("#password")).to_have_attribute("type", "password")
    expect(page.locator("#expires_at")).to_have_attribute("placeholder", "YYYY-MM-DD HH:MM")

    page.get_by_label("Title").fill("Tickets")
    page.get_by_label("Smallest quantity").fill("2")
    page.get_by_label("Largest quantity").fill("5")
    redirect.fill("https://shop.example/thanks")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_text("2–5, customer chooses")).to_be_visible()
    expect(page.get_by_text("redirect to https://shop.example/thanks")).to_be_visible()


def test_revoking_a_key_asks_in_a_dialog(page: Page, live_server, make):
    provider_id = make.provider().id
    signed_in(page, live_server, make)
    page.goto(f"{live_server.url}/admin/providers/{provider_id}")
    page.get_by_role("link", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke key default?")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/admin/providers/{provider_id}$"))
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("link", name="Revoke")).to_be_focused()

    page.get_by_role("link", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text(re.compile(r"Key default \(.*\) revoked\."))).to_be_visible()


def test_without_javascript_the_confirmation_is_a_page(browser, live_server, make):
    provider_id = make.provider(webhook_url=UNREACHABLE_HOOK).id  # its endpoint has a secret
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        signed_in(page, live_server, make)
        page.goto(f"{live_server.url}/admin/providers/{provider_id}")
        expect(page.locator('[data-copy="webhook-secret"]')).to_be_hidden()
        page.get_by_role("link", name="Rotate secret").click()
        expect(page).to_have_url(re.compile(r"/rotate-secret$"))
        expect(
            page.get_by_role("heading", name=re.compile("Rotate the signing secret"))
        ).to_be_visible()
        page.get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_text("New signing secret.")).to_be_visible()
    finally:
        context.close()


class _Accepts(BaseHTTPRequestHandler):
    """A provider endpoint that accepts every notification."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def accepting_hook():
    """The URL of an endpoint, in a thread of this process, that accepts notifications."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepts)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def send_test_event(page: Page, live_server, make, webhook_url: str) -> str:
    """Press "Send test event" on a new provider's page; the notification's id."""
    provider_id = make.provider(webhook_url=webhook_url).id
    signed_in(page, live_server, make)
    page.goto(f"{live_server.url}/admin/providers/{provider_id}")
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued.")).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def test_a_test_event_page_shows_its_attempt_without_a_reload(
    page: Page, app, live_server, make, accepting_hook
):
    message = send_test_event(page, live_server, make, accepting_hook)
    badge = page.locator(".heading-row .badge")
    expect(badge).to_have_text("Pending")
    expect(page.locator("[data-watching]")).to_be_visible()
    page.wait_for_timeout(1500)  # a look or two finds nothing new: the page stays
    expect(page.get_by_text("Test event queued.")).to_be_visible()

    with app.app_context():
        notifications.deliver(message)  # what the worker does with the queued task

    expect(badge).to_have_text("Delivered", timeout=15_000)
    expect(page.locator("[data-attempts]")).to_contain_text("204")
    expect(page.locator("[data-attempt-count]")).to_have_text("1")
    expect(page.locator("[data-watching]")).to_have_count(0)


def test_a_test_event_no_worker_sends_says_so(page: Page, live_server, make, accepting_hook):
    page.clock.install()
    send_test_event(page, live_server, make, accepting_hook)
    expect(page.locator("[data-watching]")).to_be_visible()
    page.clock.fast_forward("02:00")
    stopped = page.locator("[data-watch-stopped]")
    expect(stopped).to_be_visible()
    expect(stopped).to_contain_text("Is the worker running")
    expect(page.locator("[data-watching]")).to_be_hidden()
    expect(page.locator(".heading-row .badge")).to_have_text("Pending")
