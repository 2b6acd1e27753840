"""Fixtures: an app on SQLite (or DATABASE_URL), its clients and factories."""

import copy
import gc
from dataclasses import dataclass

from tests.isolation import isolate_this_process, new_database

# The queue and the instance folder are chosen from the environment when checkout is
# imported, so set them first: this process's own folder and, in a parallel run, its own
# PostgreSQL and Redis databases (tests/isolation.py).
isolate_this_process()

import jinja2  # noqa: E402
import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import stripe  # noqa: E402
from sqlalchemy import text  # noqa: E402
from werkzeug.routing import Rule  # noqa: E402

from checkout import audit, config, create_app  # noqa: E402
from checkout.catalog import ProviderFields, ServiceFields  # noqa: E402
from checkout.extensions import db  # noqa: E402
from tests.helpers import UNREACHABLE_HOOK, sign_in  # noqa: E402
from tests.stripe_contract import WALLET_KEY  # noqa: E402

pytest_plugins = ["tests.plugins.servers", "tests.plugins.contract"]

BASE_CONFIG = {
    "TESTING": True,
    "ALLOW_PRIVATE_WEBHOOK_URLS": True,
    "STRIPE_MAX_NETWORK_RETRIES": 0,
    "PUBLIC_BASE_URL": None,
    # One cheap round instead of scrypt (~0.1 s a hash, twice for every admin_client).
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    # Counted in this app's memory even with REDIS_URL, so no count outlives its test; and
    # far above what a test sends. tests/test_rate_limits.py runs on the shipped defaults.
    "RATELIMIT_STORAGE_URI": "memory://",
    **{name: "100000/minute" for name in config.DEFAULT_RATE_LIMITS},
    # Out of one client's reach, as create_app requires (config.check_rate_limits).
    **{name: "1000000/minute" for name in config.LIMITS_OF_ALL_CLIENTS},
}


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept across the suite's apps: each test builds a new app, whose
    Jinja environment would otherwise compile every template it renders again."""

    def __init__(self):
        self.code = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _SharedTemplateCode()


def _shared_url_rules() -> None:
    """Compile each URL rule once per run, not once per test's app.

    An app registering a rule has Werkzeug parse its text into regular expressions and
    compile two small builder functions from an AST (most of create_app's time). What that
    makes depends only on the rule's text, its options and the map's converter classes; the
    builders take the rule as an argument. So a rule already compiled for an earlier app
    takes copies of its parts, its converters (bound to the new map) and the same builders.
    """
    compile_rule = Rule.compile
    compiled = {}

    def cached(rule):
        layout = rule.map.host_matching, rule.host, rule.subdomain, rule.merge_slashes
        defaults = sorted((name, repr(value)) for name, value in (rule.defaults or {}).items())
        key = (rule.rule, layout, tuple(rule.map.converters.items()), tuple(defaults))
        if key not in compiled:
            compile_rule(rule)
            compiled[key] = rule
            return
        first = compiled[key]
        rule._parts = list(first._parts)
        rule._trace = list(first._trace)
        rule._converters = {name: copy.copy(c) for name, c in first._converters.items()}
        for converter in rule._converters.values():
            converter.map = rule.map
        rule.arguments.update(rule._converters)
        rule._build = first._build.__func__.__get__(rule, None)
        rule._build_unknown = first._build_unknown.__func__.__get__(rule, None)

    Rule.compile = cached


_shared_url_rules()

ENGINES: dict[tuple, sa.engine.Engine] = {}


def _share_engines(application) -> None:
    """Give a test's app the engine an earlier app made for the same URL and options.

    SQLAlchemy keeps compiled SQL per engine, so every test on a new engine would compile
    each statement it runs again (a sixth of the suite's time). Sessions end with their
    app context, so no connection is left checked out between tests.
    """
    engines = db._app_engines[application]
    options = repr(application.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    for bind, engine in engines.items():
        key = (engine.url.render_as_string(hide_password=False), options, bind)
        if key in ENGINES:
            engine.dispose()
            engines[bind] = ENGINES[key]
        else:
            ENGINES[key] = engine


def _reset_tables() -> None:
    """Empty every table a test wrote to; on PostgreSQL, start every id sequence at 1."""
    db.session.remove()
    tables = db.metadata.sorted_tables
    # A test fills only a few tables: find those in one query and empty just them (on
    # PostgreSQL TRUNCATE costs per table, new files for each; on SQLite each DELETE is a
    # statement of its own).
    probes = " UNION ALL ".join(
        f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM \"{table.name}\")"  # noqa: S608
        for table in tables
    )
    with db.engine.begin() as connection:
        used = {row[0] for row in connection.execute(text(probes))}
        if db.engine.dialect.name != "postgresql":
            for table in reversed(tables):
                if table.name in used:
                    connection.execute(table.delete())
            return
        if used:
            names = ", ".join(f'"{table.name}"' for table in tables if table.name in used)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # An emptied table may still have moved its id sequence on: start them all at 1.
        if counters := [
            f"setval(pg_get_serial_sequence('\"{table.name}\"', '{column.name}'), 1, false)"
            for table in tables
            for column in table.primary_key.columns
            if column is table.autoincrement_column
        ]:
            connection.execute(text(f"SELECT {', '.join(counters)}"))


# Each test builds an app, a few thousand objects that live only as long as the test: young
# collections ten times rarer (each then larger) cost less than many small ones.
gc.set_threshold(20_000, 20, 20)


def pytest_collection_finish(session):
    """What collection made lives as long as the run (the modules, the suite's tests, the
    strategies Hypothesis and Schemathesis built): out of the collector's reach, no
    collection walks those 200,000 objects again."""
    gc.freeze()


@pytest.fixture(scope="session")
def _schema():
    """Create the tables once per run, and drop them at the end."""
    app = create_app(BASE_CONFIG)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    from tests.plugins.servers import flush_queue

    flush_queue()


@pytest.fixture
def app_config() -> dict:
    """Overrides for one test's app; tests change it with their own fixture."""
    return {}


@pytest.fixture
def app(_schema, app_config):
    """A fresh app on empty tables."""
    application = create_app({**BASE_CONFIG, **app_config})
    application.jinja_env.bytecode_cache = TEMPLATE_CODE
    _share_engines(application)
    with application.app_context():
        _reset_tables()
    yield application
    with application.app_context():
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass(frozen=True)
class MadeProvider:
    """A provider the factory made: its id, its API key (None when made without one) and
    the secret its notifications are signed with (its webhook URL's endpoint's; None
    without a webhook URL)."""

    id: str
    api_key: str | None
    webhook_secret: str | None


class Factory:
    """Small builders for rows the tests need, made through the same services the admin uses."""

    def __init__(self, app):
        self.app = app

    def service(self, **overrides):
        from checkout import catalog

        fields = {"title": "Premium Credits", "price": "5", "currency": "usd", **overrides}
        with self.app.app_context():
            service = catalog.create_service(ServiceFields(**fields), actor=audit.SYSTEM)
            return service.id

    def provider(self, service_id=None, key=True, **overrides) -> MadeProvider:
        """Create a provider, with an API key unless key=False."""
        from checkout import catalog, credentials

        service_id = service_id or self.service()
        fields = {
            "name": "Bitloader",
            "service_id": service_id,
            "success_url": "https://provider.example/success?orderId={orderId}",
            "cancel_url": "https://provider.example/cancelled?orderId={orderId}",
            **overrides,
        }
        with self.app.app_context():
            provider = catalog.create_provider(ProviderFields(**fields), actor=audit.SYSTEM)
            plaintext = (
                credentials.issue_key(provider, "default", actor=audit.SYSTEM)[1] if key else None
            )
            primary = provider.primary_endpoint
            return MadeProvider(provider.id, plaintext, primary.secret if primary else None)

    def admin(self, email="admin@example.com", password="correct horse battery"):
        from checkout import accounts

        with self.app.app_context():
            accounts.create_admin(email, password, actor=audit.SYSTEM)
        return email, password


@pytest.fixture
def make(app):
    return Factory(app)


@pytest.fixture
def api_key(make):
    """A Cash App provider selling a $5 service; its API key."""
    return make.provider().api_key


@pytest.fixture
def provider_key(make):
    """A provider whose notifications go where nothing listens; its API key."""
    return make.provider(webhook_url=UNREACHABLE_HOOK).api_key


@pytest.fixture
def stripe_client(stripe_standin):
    """The test's own view of the Stripe stand-in, as a customer's wallet would act on it.

    Its key tells its requests apart from Kassa's, which the contract check holds to the SDK.
    """
    return stripe.StripeClient(
        WALLET_KEY, base_addresses={"api": stripe_standin}, max_network_retries=0
    )


@pytest.fixture
def stripe_faults(stripe_standin):
    """Stripe errors on demand at the stand-in (tests/standin/faults.py)."""
    from tests.stripe_faults import StripeFaults

    faults = StripeFaults(stripe_standin)
    faults.clear()
    yield faults
    faults.clear()


@pytest.fixture
def hooked(make, receiver) -> MadeProvider:
    """A provider whose webhook URL is the receiver, told the provider's signing secret."""
    provider = make.provider(webhook_url=receiver.hook_url)
    receiver.control(secret=provider.webhook_secret)
    return provider


@pytest.fixture
def admin_client(client, make):
    """A client signed in as an admin."""
    email, password = make.admin()
    assert sign_in(client, email, password).status_code == 302
    return client


@pytest.fixture
def empty_database(tmp_path):
    """A database URL with nothing in it, of the same kind the suite runs on."""
    with new_database(tmp_path, "migrate") as url:
        yield url
