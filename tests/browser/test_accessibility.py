"""Every page state in Chromium: no axe-core violation of any impact, no sideways scrolling.

The states are listed in tests/browser/page_states.py; a template that none of them
renders fails here, so a new page cannot go unchecked.
"""

from pathlib import Path

import pytest
from flask import template_rendered
from playwright.sync_api import Browser, Page

from tests.browser.page_states import STATES, build_world, page_templates, sign_in, visit

# What a page says to assistive technology and how it fits a screen does not depend on the
# database or the queue: checked once, in the embedded-defaults pass.
pytestmark = [pytest.mark.browser, pytest.mark.once]

AXE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
NARROWEST = {"width": 360, "height": 740}

# (viewport, colour scheme, which states): dark mode covers the customer pages, the
# admin's sign-in and dashboard (states marked dark=True).
LOOKS = {
    "phone": (PHONE, "light", False),
    "desktop": (DESKTOP, "light", False),
    "phone dark": (PHONE, "dark", True),
    "desktop dark": (DESKTOP, "dark", True),
}

RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


@pytest.fixture
def app_config():
    # The "too many requests" state: a client's fourth unlock in a minute is refused.
    return {"RATE_LIMIT_LINK_UNLOCK": "3/minute"}


@pytest.fixture
def rendered(app):
    """Names of the templates the app renders during the test."""
    names: set[str] = set()

    def remember(sender, template, context, **extra):
        names.add(template.name)

    template_rendered.connect(remember, app)
    yield names
    template_rendered.disconnect(remember, app)


SCROLLS_SIDEWAYS = """() => {
  const page = document.documentElement.scrollWidth - window.innerWidth;
  const boxes = [...document.querySelectorAll("body *")].filter(el =>
    el.scrollWidth > el.clientWidth + 1 &&
    ["auto", "scroll"].includes(getComputedStyle(el).overflowX));
  return [page, boxes.map(el => el.tagName.toLowerCase() + "." + el.className)];
}"""


def _sideways(page: Page) -> list[str]:
    """What scrolls sideways at the narrowest phone width: the page, or a box within it."""
    size = page.viewport_size
    page.set_viewport_size(NARROWEST)
    try:
        overflow, boxes = page.evaluate(SCROLLS_SIDEWAYS)
    finally:
        page.set_viewport_size(size)
    found = [f"the page scrolls {overflow} px sideways"] if overflow > 0 else []
    return found + [f"{box} scrolls sideways" for box in boxes]


@pytest.mark.parametrize("look", LOOKS)
def test_every_page_state_is_accessible_and_fits_a_phone(
    look, browser: Browser, app, live_server, make, rendered
):
    viewport, scheme, dark_only = LOOKS[look]
    world = build_world(app, make)
    base = live_server.url
    problems = []
    contexts = {}
    for signed_in in (False, True):
        context = browser.new_context(bypass_csp=True, viewport=viewport, color_scheme=scheme)
        # A paid page's countdown would leave for the seller's site while axe reads it.
        context.route(
            lambda url: not url.startswith(base),
            lambda route: route.abort(),
        )
        # axe-core in every page from its start: sent to the browser once, not per state
        # (passing its 650 kB script for each page took as long as axe's own run).
        context.add_init_script(AXE)
        contexts[signed_in] = context.new_page()
        if signed_in:
            sign_in(contexts[signed_in], base, world)
    try:
        for state in STATES:
            if dark_only and not state.dark:
                continue
            page = contexts[state.admin]
            status = visit(page, base, world, state)
            if status != state.status:
                problems.append(f"{state.name}: answered {status}, expected {state.status}")
            for violation in page.evaluate(RUN_AXE):
                problems.append(
                    f"{state.name}: {violation['impact']} {violation['id']} ({violation['help']})"
                    + "".join(f"\n      {target}" for target in violation["targets"])
                )
            if look == "phone":
                for what in _sideways(page):
                    problems.append(f"{state.name}: at 360 px {what}")
    finally:
        for page in contexts.values():
            page.context.close()

    if not dark_only:
        for name in sorted(page_templates() - rendered):
            problems.append(
                f"template {name} is rendered by no page state: add its state to STATES "
                "in tests/browser/page_states.py"
            )
    assert not problems, f"{look}:\n" + "\n".join(problems)
