"""Whether the configured Stripe account is ready for Kassa's payments: the checks
`flask --app app stripe check` runs.

Each check is one function registered with `@check("name")`: it takes the `StripeFacts`
of this run (what Stripe said, asked once) and returns findings, `passed(...)` or
`problem(...)`. A check that Stripe refuses to answer is a problem with Stripe's reason.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from flask import current_app

from checkout import payments, stripe_events, stripe_gateway
from checkout.stripe_gateway import AccountView, WebhookEndpointView

# Where Stripe must send events: the webhooks blueprint's POST /webhooks/stripe.
WEBHOOK_PATH = "/webhooks/stripe"
ALL_EVENTS = "*"


@dataclass(frozen=True)
class Finding:
    """One thing a check found: fine, or a problem to fix (the message says how)."""

    ok: bool
    message: str
    check: str = ""


def passed(message: str) -> Finding:
    """A finding that is fine."""
    return Finding(True, message)


def problem(message: str) -> Finding:
    """A finding that keeps Kassa from being ready."""
    return Finding(False, message)


@dataclass(frozen=True)
class Report:
    """The mode, the pinned API version, and every check's findings."""

    mode: str
    api_version: str
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(finding.ok for finding in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.ok]


class StripeFacts:
    """What Stripe says about the account, each asked at most once per run."""

    @cached_property
    def account(self) -> AccountView:
        return stripe_gateway.retrieve_account()

    @cached_property
    def webhook_endpoints(self) -> list[WebhookEndpointView]:
        return stripe_gateway.list_webhook_endpoints()


Check = Callable[[StripeFacts], list[Finding]]
CHECKS: list[tuple[str, Check]] = []


def check(name: str) -> Callable[[Check], Check]:
    """Register a check under a name; checks run in the order they are defined."""

    def register(function: Check) -> Check:
        CHECKS.append((name, function))
        return function

    return register


def run() -> Report:
    """Run every check against the configured keys; in sandbox mode, say so and ask nothing."""
    mode, version = stripe_gateway.stripe_mode(), stripe_gateway.api_version()
    if mode == "sandbox":
        findings = [
            replace(
                problem(
                    "sandbox mode: STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are not set, "
                    "so checkout pages only simulate payments and no real money moves"
                ),
                check="mode",
            )
        ]
        return Report(mode, version, findings)
    facts = StripeFacts()
    findings = []
    for name, function in CHECKS:
        try:
            found = function(facts)
        except stripe_gateway.StripeError as error:
            found = [problem(stripe_gateway.describe_error(error))]
        findings += [replace(finding, check=name) for finding in found]
    return Report(mode, version, findings)


@check("mode")
def stripe_mode(facts: StripeFacts) -> list[Finding]:
    """The key's mode, and whether the objects Stripe returns agree (they carry livemode)."""
    mode = stripe_gateway.stripe_mode()
    live = mode == "live"
    name = stripe_gateway.STRIPE_MODE_NAMES[mode]
    disagreeing = [endpoint for endpoint in facts.webhook_endpoints if endpoint.livemode != live]
    if disagreeing:
        return [
            problem(
                f"the secret key is for {name}, but Stripe answered livemode "
                f"{str(not live).lower()} for webhook endpoint {disagreeing[0].id}"
            )
        ]
    if not facts.webhook_endpoints:
        return [passed(f"{name}, from the secret key")]
    return [passed(f"{name}, from the secret key; Stripe's objects agree")]


@check("api_version")
def pinned_version(facts: StripeFacts) -> list[Finding]:
    """The API version every request sends, beside the one the SDK's parameters follow."""
    version = stripe_gateway.api_version()
    if version == stripe_gateway.SDK_API_VERSION:
        return [passed(f"every request sends Stripe-Version {version}")]
    return [
        passed(
            f"every request sends Stripe-Version {version} (STRIPE_API_VERSION); the "
            f"installed stripe package was generated for {stripe_gateway.SDK_API_VERSION}"
        )
    ]


@check("cash_app")
def cash_app_active(facts: StripeFacts) -> list[Finding]:
    """Cash App Pay is an active capability of the account."""
    account = facts.account
    status = account.capabilities.get("cashapp_payments")
    if status == "active":
        found = [passed(f"Cash App Pay is active for account {account.id}")]
        if stripe_gateway.forget_cashapp_refusal():
            found.append(passed("Stripe's earlier refusal of Cash App Pay is forgotten"))
        return found
    return [
        problem(
            f"Cash App Pay is not active for account {account.id} "
            f"(capabilities.cashapp_payments is {status or 'missing'}): turn it on in "
            "Stripe's dashboard under Settings → Payment methods"
        )
    ]


@check("webhook_endpoint")
def webhook_endpoint(facts: StripeFacts) -> list[Finding]:
    """An enabled endpoint for PUBLIC_BASE_URL/webhooks/stripe that sends every handled event."""
    config = current_app.config
    found = []
    if not config["STRIPE_WEBHOOK_SECRET"]:
        found.append(
            problem(
                "STRIPE_WEBHOOK_SECRET is not set: Kassa cannot verify Stripe's events and "
                "answers them with 503; set it to the endpoint's signing secret (whsec_…)"
            )
        )
    if not config["PUBLIC_BASE_URL"]:
        return [
            *found,
            problem(
                "PUBLIC_BASE_URL is not set, so which webhook endpoint is Kassa's is "
                "unknown: set it to Kassa's https origin"
            ),
        ]
    url = config["PUBLIC_BASE_URL"] + WEBHOOK_PATH
    handled = sorted(stripe_events.HANDLERS)
    ours = [endpoint for endpoint in facts.webhook_endpoints if endpoint.url == url]
    if not ours:
        return [
            *found,
            problem(
                f"no webhook endpoint for {url}: add one in Stripe's dashboard (Developers → "
                f"Webhooks) with the events {', '.join(handled)}"
            ),
        ]
    for endpoint in ours:
        if endpoint.status == "enabled" and not _missing_events(endpoint):
            return [
                *found,
                passed(
                    f"webhook endpoint {endpoint.id} for {url} is enabled and sends all "
                    f"{len(handled)} event types Kassa handles"
                ),
            ]
    for endpoint in ours:
        if endpoint.status != "enabled":
            found.append(
                problem(
                    f"webhook endpoint {endpoint.id} for {url} is {endpoint.status}: "
                    "enable it in Stripe's dashboard"
                )
            )
        if missing := _missing_events(endpoint):
            found.append(
                problem(
                    f"webhook endpoint {endpoint.id} for {url} does not send "
                    f"{', '.join(missing)}: add them to it"
                )
            )
    return found


def _missing_events(endpoint: WebhookEndpointView) -> list[str]:
    """The event types Kassa handles that the endpoint does not send ('*' sends all)."""
    if ALL_EVENTS in endpoint.enabled_events:
        return []
    return [
        event for event in sorted(stripe_events.HANDLERS) if event not in endpoint.enabled_events
    ]


@check("payment_links")
def buy_button_payment_links(facts: StripeFacts) -> list[Finding]:
    """The Stripe Payment Link behind each sold Buy Button exists, is active and charges the
    service's currency: only its sessions pay Buy Button orders."""
    problems = payments.payment_link_problems()
    if problems:
        return [problem(message) for message in problems]
    return [passed("every Buy Button sold has an active Stripe Payment Link in its currency")]
