"""kassa.js's pay overlay in Chromium: a seller's page on another origin (localhost, while
Kassa is 127.0.0.1) opens the checkout in a frame, pays in the sandbox and hears kassa:paid;
a page the provider does not allow, or a phone where Cash App would leave the page,
navigates as before; messages from anywhere but Kassa's frame are ignored."""

import json
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from checkout import audit, payment_links
from checkout.payment_links import LinkFields
from tests.browser.test_accessibility import AXE

pytestmark = pytest.mark.browser

# The seller's page: the button, a log of the events it hears, and a frame from a third
# origin (the same site server under 127.0.0.1) that forges Kassa's messages on demand.
SHOP_PAGE = """<!doctype html>
<html lang="en"><head><title>Cafe</title></head><body>
<h1>Our cafe</h1>
<script>
  window.kassaEvents = [];
  window.messagesSeen = 0;
  ["kassa:paid", "kassa:failed", "kassa:closed"].forEach(function (type) {{
    document.addEventListener(type, function (event) {{
      window.kassaEvents.push({{ type: event.type, detail: event.detail,
                                 fromButton: event.target.className }});
    }});
  }});
  window.addEventListener("message", function () {{ window.messagesSeen += 1; }});
</script>
<script src="{kassa}/static/kassa.js" data-payment-link="{link}" data-label="Buy a coffee"></script>
<iframe id="forger" title="Another site" src="{forger}/forger.html" hidden></iframe>
</body></html>"""

FORGER_PAGE = """<!doctype html><title>Forger</title><script>
window.addEventListener("message", function () {
  var order = { source: "kassa", orderId: "ord_000000000000000000000000", status: "paid" };
  parent.postMessage(Object.assign({ type: "kassa:paid" }, order), "*");
  parent.postMessage(Object.assign({ type: "kassa:failed" }, order), "*");
  parent.postMessage({ source: "kassa", type: "kassa:close" }, "*");
});
</script>"""


def make_link(app, service_id, provider_id) -> str:
    with app.app_context():
        return payment_links.create_link(
            LinkFields(service_id=service_id, title="Festival tickets", provider_id=provider_id),
            actor=audit.SYSTEM,
        ).id


def shop_url(site) -> str:
    """The seller's site under another name: http://localhost:<port> is another origin
    than Kassa's http://127.0.0.1:<port>."""
    return site.url.replace("127.0.0.1", "localhost")


def serve_shop(site, live_server, link_id: str) -> str:
    site.pages["/shop.html"] = SHOP_PAGE.format(
        kassa=live_server.url, link=link_id, forger=site.url
    )
    site.pages["/forger.html"] = FORGER_PAGE
    return shop_url(site) + "/shop.html"


def events(page: Page) -> list[dict]:
    return page.evaluate("window.kassaEvents")


@pytest.fixture
def coffee(make):
    return make.service(title="Coffee", price="3")


def test_the_overlay_pays_in_the_frame_and_tells_the_shop(
    page: Page, app, live_server, site, make, coffee
):
    provider = make.provider(coffee, embed_origins=shop_url(site))
    link_id = make_link(app, coffee, provider.id)
    page.goto(serve_shop(site, live_server, link_id))
    button = page.get_by_role("button", name="Buy a coffee")
    button.click()

    dialog = page.get_by_role("dialog", name="Checkout")
    expect(dialog).to_be_visible()
    close = page.get_by_role("button", name="Close checkout")
    expect(close).to_be_focused()
    checkout = page.frame_locator("iframe[title=Checkout]")
    expect(checkout.get_by_role("heading", name="Festival tickets")).to_be_visible()
    assert page.url == shop_url(site) + "/shop.html"
    checkout.get_by_role("button", name="Pay").click()
    checkout.get_by_role("button", name="Simulate failure").click()
    expect(checkout.get_by_role("heading", name="Payment failed")).to_be_visible()
    checkout.get_by_role("button", name="Simulate success").click()
    expect(checkout.get_by_role("heading", name="Payment received")).to_be_visible()
    page.wait_for_function("window.kassaEvents.length > 1")

    failed, paid = events(page)
    assert (failed["type"], failed["detail"]["status"]) == ("kassa:failed", "failed")
    assert failed["detail"]["orderId"] == paid["detail"]["orderId"]
    order_id = paid["detail"]["orderId"]
    assert re.fullmatch(r"ord_[0-9a-f]{24}", order_id)
    assert paid == {
        "type": "kassa:paid",
        "detail": {"orderId": order_id, "status": "paid", "paymentLinkId": link_id},
        "fromButton": "kassa-pay-button",
    }
    order = requests.get(
        f"{live_server.url}/api/v1/orders/{order_id}",
        headers={"Authorization": f"Bearer {provider.api_key}"},
        timeout=10,
    ).json()
    assert (order["status"], order["paymentLinkId"]) == ("paid", link_id)

    # The receipt reloaded in the frame tells again, and kassa.js does not report it twice.
    seen = page.evaluate("window.messagesSeen")
    checkout.locator("body").evaluate("body => setTimeout(() => location.reload(), 0)")
    page.wait_for_function(f"window.messagesSeen >= {seen + 2}")
    close.click()
    expect(dialog).to_have_count(0)
    expect(button).to_be_focused()
    assert [event["type"] for event in events(page)] == [
        "kassa:failed",
        "kassa:paid",
        "kassa:closed",
    ]
    assert events(page)[2]["detail"] == {
        "orderId": order_id,
        "status": "paid",
        "paymentLinkId": link_id,
    }

    # Escape, pressed inside the frame, closes it too; nothing was paid there this time.
    button.click()
    expect(dialog).to_be_visible()
    checkout.get_by_role("heading", name="Festival tickets").click()
    # Only the key's going down: the overlay removes the frame on it, and a key-up sent to a
    # frame that is gone is never acknowledged (Playwright's press would wait for ever).
    page.keyboard.down("Escape")
    expect(dialog).to_have_count(0)
    assert events(page)[-1] == {
        "type": "kassa:closed",
        "detail": {"orderId": None, "status": None, "paymentLinkId": link_id},
        "fromButton": "kassa-pay-button",
    }


def test_a_shop_the_provider_does_not_allow_navigates_as_before(
    page: Page, app, live_server, site, make, coffee
):
    provider = make.provider(coffee, embed_origins="https://the-real-shop.example")
    link_id = make_link(app, coffee, provider.id)
    frames = []
    page.on("frameattached", lambda frame: frames.append(frame))
    page.goto(serve_shop(site, live_server, link_id))
    attached = len(frames)  # the forger's frame only
    with page.expect_response(lambda response: response.url.endswith(f"/l/{link_id}")) as shown:
        page.get_by_role("button", name="Buy a coffee").click()
    page.wait_for_url(f"{live_server.url}/l/{link_id}")
    expect(page.get_by_role("heading", name="Festival tickets")).to_be_visible()
    assert len(frames) == attached
    assert "frame-ancestors 'none'" in shown.value.headers["content-security-policy"]
    # Asked for the frame, Kassa still refuses it to this origin.
    framed = requests.get(
        f"{live_server.url}/l/{link_id}", params={"embed": shop_url(site)}, timeout=10
    )
    assert "frame-ancestors 'none'" in framed.headers["Content-Security-Policy"]
    assert framed.headers["X-Frame-Options"] == "DENY"


def test_messages_from_anywhere_but_kassa_are_ignored(
    page: Page, app, live_server, site, make, coffee
):
    provider = make.provider(coffee, embed_origins=shop_url(site))
    link_id = make_link(app, coffee, provider.id)
    page.goto(serve_shop(site, live_server, link_id))
    page.get_by_role("button", name="Buy a coffee").click()
    checkout = page.frame_locator("iframe[title=Checkout]")
    expect(checkout.get_by_role("heading", name="Festival tickets")).to_be_visible()

    # Another origin's frame, and the shop's own page, post Kassa-looking messages.
    forged = {"source": "kassa", "type": "kassa:paid", "orderId": "ord_1", "status": "paid"}
    page.evaluate(
        "forged => { window.postMessage(forged, '*');"
        " document.getElementById('forger').contentWindow.postMessage('go', '*'); }",
        forged,
    )
    # Every listener hears a message in turn: once the page's own has counted them all,
    # kassa.js has had them too.
    page.wait_for_function("window.messagesSeen >= 4")
    assert events(page) == []
    dialog = page.get_by_role("dialog", name="Checkout")
    expect(dialog).to_be_visible()

    # Kassa's own frame is heard: cancelling on the checkout page closes the overlay.
    checkout.get_by_role("button", name="Pay").click()
    cancel = checkout.get_by_role("link", name="Cancel and return to Bitloader")
    expect(cancel).to_be_visible()
    # The checkout's embed.js (deferred) must be listening before its close link is pressed.
    expect(checkout.locator("html[data-embed-ready]")).to_have_count(1)
    cancel.click()
    expect(dialog).to_have_count(0)
    [closed] = events(page)
    assert closed["type"] == "kassa:closed"
    assert closed["detail"]["status"] == "pending"
    assert closed["detail"]["orderId"].startswith("ord_")


def test_on_a_phone_cash_app_opens_the_page_instead(browser, app, live_server, site, make):
    """With Stripe, Cash App Pay on a phone hands over to the Cash App app and back: the
    button opens the link's page there, and the overlay only on a desktop."""
    app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x")
    service_id = make.service(title="Coffee", price="3")
    provider = make.provider(service_id, embed_origins=shop_url(site))
    link_id = make_link(app, service_id, provider.id)
    shop = serve_shop(site, live_server, link_id)
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    desktop = browser.new_context()
    try:
        on_phone = phone.new_page()
        on_phone.goto(shop)
        on_phone.get_by_role("button", name="Buy a coffee").tap()
        on_phone.wait_for_url(f"{live_server.url}/l/{link_id}")
        on_desktop = desktop.new_page()
        on_desktop.goto(shop)
        answer = on_desktop.evaluate(
            "url => fetch(url).then(r => r.text())", f"{live_server.url}/l/{link_id}/overlay"
        )
        assert json.loads(answer) == {"overlay": True, "onPhones": False, "reason": None}
        on_desktop.get_by_role("button", name="Buy a coffee").click()
        expect(on_desktop.get_by_role("dialog", name="Checkout")).to_be_visible()
        frame = on_desktop.frame_locator("iframe[title=Checkout]")
        expect(frame.get_by_role("heading", name="Festival tickets")).to_be_visible()
    finally:
        phone.close()
        desktop.close()


@pytest.mark.parametrize(
    "viewport", [{"width": 360, "height": 640}, {"width": 1280, "height": 800}]
)
def test_the_overlay_fits_the_screen_and_passes_axe(
    browser, app, live_server, site, make, coffee, viewport
):
    provider = make.provider(coffee, embed_origins=shop_url(site))
    link_id = make_link(app, coffee, provider.id)
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(serve_shop(site, live_server, link_id))
        page.get_by_role("button", name="Buy a coffee").click()
        dialog = page.get_by_role("dialog", name="Checkout")
        checkout = page.frame_locator("iframe[title=Checkout]")
        expect(checkout.get_by_role("button", name="Pay")).to_be_visible()
        box = dialog.locator("iframe").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
        # The page in the frame never scrolls sideways.
        framed = next(frame for frame in page.frames if f"/l/{link_id}" in frame.url)
        assert framed.evaluate("document.documentElement.scrollWidth <= innerWidth")
        page.add_script_tag(content=AXE)
        violations = page.evaluate(
            """async () => (await axe.run({include: [["[data-kassa-overlay]"]]},
                 {iframes: false, resultTypes: ["violations"]})).violations.map(v => v.id)"""
        )
        assert violations == []
    finally:
        context.close()
