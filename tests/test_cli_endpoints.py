"""`flask providers …-endpoint`: the admin's command line manages the same webhook endpoints
as the provider's API."""

import json

from tests.helpers import UNREACHABLE_HOOK, bearer


def run(runner, *args):
    return runner.invoke(args=["providers", *args])


def listed(runner, slug="bitloader") -> list[dict]:
    result = run(runner, "endpoints", slug, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_add_change_rotate_and_remove(client, runner, make):
    provider = make.provider()
    assert listed(runner) == []
    added = run(
        runner,
        "add-endpoint",
        "bitloader",
        "--url",
        UNREACHABLE_HOOK,
        "--event",
        "payment_succeeded",
        "--description",
        "staging",
        "--json",
    )
    assert added.exit_code == 0, added.output
    made = json.loads(added.output)
    assert made["secret"].startswith("whsec_") and made["events"] == ["payment_succeeded"]
    [shown] = listed(runner)
    assert "secret" not in shown and shown["description"] == "staging"
    # The provider's backend sees the same endpoint.
    through_api = client.get("/api/v1/webhook-endpoints", headers=bearer(provider.api_key))
    assert [row["id"] for row in through_api.get_json()["data"]] == [made["id"]]

    off = run(runner, "update-endpoint", "bitloader", made["id"], "--off", "--event", "*")
    assert off.exit_code == 0, off.output
    assert listed(runner)[0]["active"] is False and listed(runner)[0]["events"] == ["*"]

    rotated = run(runner, "rotate-endpoint-secret", "bitloader", made["id"])
    assert rotated.exit_code == 0 and "New signing secret (shown once): whsec_" in rotated.output
    assert made["secret"] not in rotated.output

    removed = run(runner, "remove-endpoint", "bitloader", made["id"])
    assert removed.exit_code == 0 and listed(runner) == []


def test_errors_name_the_option_and_change_nothing(runner, make):
    make.provider(webhook_url=UNREACHABLE_HOOK)
    before = listed(runner)
    bad_url = run(runner, "add-endpoint", "bitloader", "--url", "ftp://hooks.example/x")
    assert bad_url.exit_code == 1 and "Error: --url:" in bad_url.output
    bad_event = run(runner, "add-endpoint", "bitloader", "--url", UNREACHABLE_HOOK, "--event", "x")
    assert bad_event.exit_code == 2 and "--event" in bad_event.output
    unknown = run(runner, "remove-endpoint", "bitloader", "we_nothing")
    assert unknown.exit_code == 1 and "has no webhook endpoint 'we_nothing'" in unknown.output
    nobody = run(runner, "endpoints", "nobody")
    assert nobody.exit_code == 1 and "no provider with slug 'nobody'" in nobody.output
    for n in range(4):
        assert (
            run(runner, "add-endpoint", "bitloader", "--url", f"{UNREACHABLE_HOOK}/{n}").exit_code
            == 0
        )
    sixth = run(runner, "add-endpoint", "bitloader", "--url", UNREACHABLE_HOOK)
    assert sixth.exit_code == 1 and "at most 5 webhook endpoints" in sixth.output
    assert len(listed(runner)) == 5 and listed(runner)[0] == before[0]
