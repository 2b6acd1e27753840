"""The project's Stripe stand-in: localstripe, taught what Kassa relies on in Stripe's
documented shapes. Test plumbing only; `tests/stripe_standin.py` runs it.

One module per area, each changing `localstripe.resources` or adding routes to
`localstripe.server.app` when imported. `control` opens the test routes under `/_kassa/`;
`contract` records every request for the suite's contract check; `versions` enforces the
API version rules; `account` answers for the account and its webhook endpoints.
"""

from standin import (  # noqa: F401
    account,
    checkout,
    contract,
    control,
    faults,
    idempotency,
    localstripe_fixes,
    refunds,
    versions,
)
