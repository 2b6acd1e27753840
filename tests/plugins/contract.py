"""After every test that used the Stripe stand-in, hold Kassa's requests to the contract.

The stand-in's record is emptied before the test; afterwards each request Kassa sent is
checked by tests/stripe_contract.py, and a violation fails the test (at teardown).
"""

import pytest
import requests

from tests import stripe_contract


@pytest.fixture(autouse=True)
def _stripe_contract(request):
    if "stripe_standin" not in request.fixturenames:
        yield
        return
    standin = request.getfixturevalue("stripe_standin")
    app = request.getfixturevalue("app") if "app" in request.fixturenames else None
    requests.delete(f"{standin}/_kassa/requests", timeout=5).raise_for_status()
    yield
    recorded = requests.get(f"{standin}/_kassa/requests", timeout=5).json()
    problems = stripe_contract.violations(recorded, _pinned_version(app))
    if problems:
        pytest.fail("Kassa's Stripe requests break the contract:\n" + "\n".join(problems))


def _pinned_version(app) -> str:
    from checkout import stripe_gateway

    if app is None:
        return stripe_gateway.SDK_API_VERSION
    with app.app_context():
        return stripe_gateway.api_version()
