"""Fixtures for the tests of signed Stripe events: an app that knows the webhook secret, and
a $15 Cash App order for the events to move.

A test module takes them by naming them at its top (`app_config = signed_events.app_config`),
so its app_config replaces the suite's empty one for that module only, and its classes can
still replace it again.
"""

import pytest

from tests.helpers import api_open_order
from tests.stripe_signing import WEBHOOK_SECRET


@pytest.fixture
def app_config():
    """The app verifies Stripe's signatures with tests/stripe_signing.py's secret."""
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def order(client, provider_key):
    """A $15 Cash App order; returns its API view."""
    return api_open_order(client, provider_key, externalId="EXT-1", amount=15).get_json()
