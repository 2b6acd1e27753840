"""The project's Stripe stand-in: localstripe, taught what Kassa relies on in Stripe's
documented shapes. Test plumbing only; `tests/stripe_standin.py` runs it.

One module per area, each changing `localstripe.resources` or adding routes to
`localstripe.server.app` when imported.
"""

from standin import (
    checkout,  # noqa: F401
    localstripe_fixes,  # noqa: F401
)
