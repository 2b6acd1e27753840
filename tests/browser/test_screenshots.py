"""Screenshots of the main pages for docs/screenshots/, at phone and desktop widths.

Run `KASSA_SCREENSHOTS=1 pytest tests/browser/test_screenshots.py` to write them again;
without the variable the test is skipped, so the PNGs change only when someone asks.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.page_states import STATES, build_world, sign_in, visit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("KASSA_SCREENSHOTS") != "1", reason="set KASSA_SCREENSHOTS=1 to write them"
    ),
]

FOLDER = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

# File name → page state (by its name in STATES).
SHOTS = {
    "checkout-sandbox": "checkout pending (sandbox)",
    "checkout-paid": "checkout paid",
    "checkout-terms": "checkout with the seller's terms in its footer",
    "checkout-receipt": "checkout paid, receipt sent",
    "link": "link page, quantity picker",
    "link-password": "link password page",
    "admin-dashboard": "dashboard",
    "admin-orders": "orders",
    "admin-provider": "provider",
}


@pytest.mark.parametrize("size", SIZES)
def test_screenshots(size, browser: Browser, app, live_server, make):
    world = build_world(app, make)
    base = live_server.url
    states = {state.name: state for state in STATES}
    context = browser.new_context(viewport=SIZES[size], device_scale_factor=1)
    context.route(lambda url: not url.startswith(base), lambda route: route.abort())
    page = context.new_page()
    sign_in(page, base, world)
    FOLDER.mkdir(parents=True, exist_ok=True)
    try:
        for name, state_name in SHOTS.items():
            state = states[state_name]
            assert visit(page, base, world, state) == state.status
            path = FOLDER / f"{name}-{size}.png"
            page.screenshot(path=str(path), full_page=False, animations="disabled")
            assert path.stat().st_size > 0
    finally:
        context.close()
