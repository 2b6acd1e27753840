"""Run the project's Stripe stand-in (tests/standin/): `python tests/stripe_standin.py --port P`."""

import standin  # noqa: F401 -- teaches localstripe what Kassa relies on
from localstripe import server

if __name__ == "__main__":
    server.start()
