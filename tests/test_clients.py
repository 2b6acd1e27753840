"""Clients generated from the served OpenAPI document work: a Python client made by
openapi-python-client runs a provider's whole flow against a running Kassa, the TypeScript
types made by openapi-typescript compile a typed example and refuse a wrong one, and the
README's examples of both run as written."""

import importlib
import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from checkout import create_app
from tests.conftest import BASE_CONFIG
from tests.helpers import UNREACHABLE_HOOK, simulate

# The OpenAPI document and the TypeScript tools do not depend on the database or queue.
pytestmark = [pytest.mark.multiprocess, pytest.mark.once]

CLIENTS = Path(__file__).resolve().parent / "clients"
README = Path(__file__).resolve().parent.parent / "README.md"
# The generated package's name: openapi-python-client's, from the document's title.
PACKAGE = "kassa_provider_api_client"


def _served_document() -> dict:
    """/api/v1/openapi.json as Kassa serves it."""
    response = create_app(BASE_CONFIG).test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture(scope="session")
def document_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("document") / "openapi.json"
    path.write_text(json.dumps(_served_document()))
    return path


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def kassa(document_file, tmp_path_factory):
    """The Python client openapi-python-client generates from the document, imported.

    --fail-on-warning: a part of the document the generator cannot turn into code (it
    would leave that operation or model out) fails here, not in a provider's build.
    """
    folder = tmp_path_factory.mktemp("python-client")
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")  # no ruff over the generated code
    generated = _run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            *("--path", str(document_file), "--output-path", str(folder / PACKAGE)),
            *("--config", str(config), "--meta", "none", "--fail-on-warning"),
        ]
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(name: str):
    """A generated operation's module (sync_detailed, asyncio_detailed, and sync and asyncio
    where the answer has a schema), by operationId."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return importlib.import_module(f"{PACKAGE}.api.default.{snake}")


def test_every_operation_is_a_generated_function(kassa, document_file):
    document = json.loads(document_file.read_text())
    for item in document["paths"].values():
        for described in item.values():
            assert callable(operation(described["operationId"]).sync_detailed)


def test_a_provider_runs_its_flow_through_the_generated_client(kassa, make, client, live_server):
    from kassa_provider_api_client.models import (
        CreatePaymentIntent,
        CreatePaymentLink,
        CreatePaymentLinkMetadata,
        CreateRefund,
        CreateWebhookEndpoint,
        Error,
        ListPaymentLinksActive,
        Order,
        OrderStatus,
        PaymentLink,
        RecoverDeliveries,
        Refund,
        RefundReason,
        UpdatePaymentLink,
    )

    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    api = kassa.AuthenticatedClient(
        base_url=live_server.url + "/api/v1", token=key, raise_on_unexpected_status=True
    )

    opened = operation("createPaymentIntent").sync(
        client=api, body=CreatePaymentIntent(external_id="A-1", amount=10)
    )
    assert isinstance(opened, Order), opened
    assert (opened.status, opened.amount, opened.quantity) == (OrderStatus.PENDING, 10, 2)
    assert opened.checkout_url.startswith(live_server.url + "/checkout?orderId=")
    again = operation("getOrder").sync(opened.order_id, client=api)
    assert again.to_dict() == opened.to_dict()
    listed = operation("listOrders").sync(client=api, external_id="A-1")
    assert [order.order_id for order in listed.data] == [opened.order_id]
    assert listed.has_more is False

    assert simulate(client, opened.order_id).status_code == 303  # the customer pays
    paid = operation("getOrder").sync(opened.order_id, client=api)
    assert (paid.status, paid.paid_amount, paid.paid_at is not None) == (OrderStatus.PAID, 10, True)

    refund = operation("createRefund").sync(
        opened.order_id,
        client=api,
        body=CreateRefund(amount=4, reason=RefundReason.REQUESTED_BY_CUSTOMER),
    )
    assert isinstance(refund, Refund), refund
    assert (refund.order_id, Decimal(str(refund.amount)), refund.reason) == (
        opened.order_id,
        Decimal(4),
        RefundReason.REQUESTED_BY_CUSTOMER,
    )
    too_much = operation("createRefund").sync_detailed(
        opened.order_id, client=api, body=CreateRefund(amount=7)
    )
    assert too_much.status_code == 422
    assert isinstance(too_much.parsed, Error) and too_much.parsed.param == "amount"
    refunds = operation("listRefunds").sync(opened.order_id, client=api)
    assert [listed.id for listed in refunds.data] == [refund.id]
    after = operation("getOrder").sync(opened.order_id, client=api)
    assert (after.status, after.refunded_amount) == (OrderStatus.PARTIALLY_REFUNDED, 4)

    other = operation("createPaymentIntent").sync(client=api, body=CreatePaymentIntent())
    canceled = operation("cancelOrder").sync(other.order_id, client=api)
    assert isinstance(canceled, Order) and canceled.status == OrderStatus.CANCELED
    paid_one = operation("cancelOrder").sync_detailed(opened.order_id, client=api)
    assert paid_one.status_code == 409 and isinstance(paid_one.parsed, Error)

    link = operation("createPaymentLink").sync(
        client=api,
        body=CreatePaymentLink(
            title="Ten credits",
            quantity=2,
            metadata=CreatePaymentLinkMetadata.from_dict({"campaign": "spring"}),
        ),
    )
    assert isinstance(link, PaymentLink), link
    assert (link.active, link.quantity, link.metadata.to_dict()) == (
        True,
        2,
        {"campaign": "spring"},
    )
    read = operation("getPaymentLink").sync(link.id, client=api)
    assert read.to_dict() == link.to_dict()
    turned_off = operation("updatePaymentLink").sync(
        link.id, client=api, body=UpdatePaymentLink(active=False, max_uses=3)
    )
    assert (turned_off.active, turned_off.max_uses) == (False, 3)
    off = operation("listPaymentLinks").sync(client=api, active=ListPaymentLinksActive.FALSE)
    on = operation("listPaymentLinks").sync(client=api, active=ListPaymentLinksActive.TRUE)
    assert ([link.id for link in off.data], on.data) == ([link.id], [])

    # Catching up: every notification written, newest first, and the webhook endpoints.
    events = operation("listEvents").sync(client=api, order_id=opened.order_id)
    assert [event.type_ for event in events.data][-1].value == "payment_succeeded"
    [first] = operation("listWebhookEndpoints").sync(client=api).data
    assert first.url == UNREACHABLE_HOOK
    added = operation("createWebhookEndpoint").sync(
        client=api,
        body=CreateWebhookEndpoint.from_dict(
            {"url": UNREACHABLE_HOOK + "/2", "events": ["payment_succeeded"]}
        ),
    )
    assert added.secret.startswith("whsec_")
    rotated = operation("rotateWebhookSecret").sync(added.id, client=api)
    assert rotated.secret.startswith("whsec_") and rotated.secret != added.secret
    test = operation("sendTestEvent").sync(added.id, client=api)
    deliveries = operation("listDeliveries").sync(added.id, client=api)
    assert [delivery.id for delivery in deliveries.data] == [test.id]
    recovered = operation("recoverDeliveries").sync(
        added.id, client=api, body=RecoverDeliveries.from_dict({"since": "2026-01-01T00:00:00Z"})
    )
    assert recovered.queued == 0
    gone = operation("deleteWebhookEndpoint").sync(added.id, client=api)
    assert (gone.id, gone.deleted) == (added.id, True)


def test_the_generated_client_reports_a_refusal_as_the_error_model(kassa, make, live_server):
    from kassa_provider_api_client.models import CreateRefund, Error

    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    api = kassa.AuthenticatedClient(base_url=live_server.url + "/api/v1", token=key)
    missing = operation("getOrder").sync_detailed("ord_" + "0" * 24, client=api)
    assert missing.status_code == 404 and isinstance(missing.parsed, Error)
    wrong_key = kassa.AuthenticatedClient(base_url=api._base_url, token="kassa_nope")
    refused = operation("createRefund").sync_detailed(
        "ord_" + "0" * 24, client=wrong_key, body=CreateRefund()
    )
    assert refused.status_code == 401
    assert refused.parsed.to_dict() == {
        "error": refused.parsed.error,
        "code": "invalid_api_key",
        "param": None,
    }


def _readme_example(language: str) -> str:
    """The README's first code block in that language under "Client libraries"."""
    section = README.read_text().split("\n## Client libraries\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.S)[1]


def test_the_readme_python_example_runs(kassa, make, client, live_server):
    example = _readme_example("python")
    pay_here = "# send the customer to order.checkout_url; later:"
    assert pay_here in example
    example = example.replace(pay_here, "simulate(client, order.order_id)")
    example = example.replace("https://pay.example.com", live_server.url)
    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    names = {"KASSA_API_KEY": key, "simulate": simulate, "client": client}
    exec(compile(example, "README.md", "exec"), names)  # noqa: S102 -- our own README
    assert (names["order"].status.value, names["refund"].amount) == ("paid", 20)


# TypeScript: openapi-typescript and tsc, installed from tests/clients/package-lock.json by
# `make test` (npm ci), run from that folder's node_modules: npx installs nothing (--no).
NPX = ("npx", "--no", "--")


@pytest.fixture(scope="session")
def typescript_types(document_file, tmp_path_factory) -> Path:
    """A folder with kassa.d.ts, generated from the document, beside the examples."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the TypeScript types are not checked")
    binaries = CLIENTS / "node_modules" / ".bin"
    if not (binaries / "openapi-typescript").exists():
        pytest.fail("tests/clients/node_modules is missing: run `make test` (it runs npm ci)")
    folder = tmp_path_factory.mktemp("typescript")
    for example in CLIENTS.glob("*.ts"):
        shutil.copy(example, folder)
    output = folder / "kassa.d.ts"
    generated = _run(
        [*NPX, "openapi-typescript", str(document_file), "-o", str(output)], cwd=CLIENTS
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return folder


def tsc(folder: Path, source: str) -> subprocess.CompletedProcess:
    """`tsc --strict --noEmit` on one file of the folder."""
    options = ["--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"]
    return _run(
        [*NPX, "tsc", "--strict", "--noEmit", *options, str(folder / source)],
        cwd=CLIENTS,
    )


def test_the_typescript_types_compile_a_typed_example(typescript_types):
    compiled = tsc(typescript_types, "example.ts")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_readme_typescript_example_compiles(typescript_types):
    example = _readme_example("ts") + "\ndeclare const KASSA_API_KEY: string;\nexport {};\n"
    (typescript_types / "readme.ts").write_text(example)
    compiled = tsc(typescript_types, "readme.ts")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_typescript_types_refuse_each_wrong_use(typescript_types):
    """Every line of wrong.ts marked `// wrong` fails to compile, and no other line does
    (so it fails for the types, not for a missing import)."""
    source = (typescript_types / "wrong.ts").read_text().splitlines()
    marked = {number for number, line in enumerate(source, 1) if line.endswith("// wrong")}
    compiled = tsc(typescript_types, "wrong.ts")
    assert compiled.returncode != 0
    failing = {int(line) for line in re.findall(r"wrong\.ts\((\d+),\d+\): error", compiled.stdout)}
    assert marked and failing == marked, compiled.stdout
