"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL
is set), a real SMTP server capturing every email, and factories for partners and consumers.
"""

from __future__ import annotations

import contextvars
import email
import email.policy
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import make_url
from sqlmodel import SQLModel
from werkzeug.routing import Rule

from app import create_app
from app.config import Settings
from app.db import db_session, make_engine
from app.domain.money import Money
from app.extensions import limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def pytest_sessionstart(session):
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not TEST_DATABASE_URL:
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")


def reload(session, model, ident):
    """The row as the database has it now (requests write through their own sessions)."""
    session.rollback()  # end any read transaction: SQLite would keep showing its snapshot
    return session.get(model, ident, populate_existing=True)


# --- mail -----------------------------------------------------------------------------


@dataclass
class Mailbox:
    """Every message the SMTP server received during one test, parsed."""

    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if address.lower() in m["To"].lower()]

    def last_to(self, address: str):
        found = self.to(address)
        assert found, f"no email to {address}; got {[m['To'] for m in self.messages]}"
        return found[-1]

    def clear(self):
        with self.lock:
            self.messages.clear()


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def body_html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def first_link(message, pattern: str) -> str:
    match = re.search(pattern, body_text(message))
    assert match, f"no link matching {pattern!r} in:\n{body_text(message)}"
    return match.group(0)


def temporary_password_in(message) -> str:
    match = re.search(r"Temporary password:\s+(\S+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    _controller, box = smtp_server
    box.clear()
    return box


# --- database ---------------------------------------------------------------------------


def _postgres_admin(url: str):
    """An autocommit engine on the server's `postgres` database (CREATE and DROP DATABASE run outside a transaction)."""
    return make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_url():
    """TEST_DATABASE_URL's database with a fresh schema. Under pytest-xdist each worker gets a database of its
    own beside it, `<database>_gw0`, `<database>_gw1`, ..., made here and dropped at the end."""
    if not TEST_DATABASE_URL:
        yield None
        return
    url = make_url(Settings(DATABASE_URL=TEST_DATABASE_URL).DATABASE_URL)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    admin = None
    if worker:
        url = url.set(database=f"{url.database}_{worker}")
        admin = _postgres_admin(url.render_as_string(hide_password=False))
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    url = url.render_as_string(hide_password=False)
    engine = make_engine(url)
    import app.models  # noqa: F401

    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    yield url
    if admin is not None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def empty_postgres(postgres_url):
    """Empties every table and restarts every sequence, as a new database would have them: DELETE in reverse
    dependency order, then ALTER SEQUENCE ... RESTART, one round trip on one connection kept for the session.
    Measured ~6 ms a test, against ~60-90 ms for TRUNCATE ... RESTART IDENTITY CASCADE (a new file per table and
    index) and 50-160 ms for CREATE DATABASE ... TEMPLATE (which also writes the whole database to the WAL)."""
    engine = make_engine(postgres_url)
    tables = [table.name for table in SQLModel.metadata.sorted_tables]
    with engine.connect() as connection:
        sequences = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences"
                " WHERE schemaname = current_schema()"
            )
        ]
    delete_all = "; ".join(
        [f'DELETE FROM "{name}"' for name in reversed(tables)] + [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sequences]
    )
    truncate_all = "TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " RESTART IDENTITY CASCADE"

    def empty():
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(delete_all)
        except Exception:  # a foreign key DELETE's order cannot satisfy: the slower sure way
            with engine.begin() as connection:
                connection.exec_driver_sql(truncate_all)

    yield empty
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    request.getfixturevalue("empty_postgres")()
    return request.getfixturevalue("postgres_url")


class IsolatedClient(FlaskClient):
    """Every request in a fresh app context (its own `g`, database session and login cache), as in production.

    The `app` fixture keeps an app context pushed for the whole test, which Flask would otherwise reuse
    for every request: flask-login's cached user and the database session would leak between requests
    and between clients.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


# Argon2's cheapest parameters (argon2-cffi's minimum) for every app the tests build, except a production
# one: hashing is not what they test, and it was half the suite's time. Production's own parameters are
# pinned in tests/unit/test_secrets.py.
CHEAPEST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 8, "ARGON2_PARALLELISM": 1}

_sqlite_schema_file: Path | None = None


def sqlite_schema_file() -> Path:
    """A SQLite file holding the empty schema, made once per process (each xdist worker makes its own)."""
    global _sqlite_schema_file
    if _sqlite_schema_file is None:
        import app.models  # noqa: F401  (registers the tables)

        path = Path(tempfile.mkdtemp(prefix="giftstore-schema-")) / "schema.db"  # removed at pytest_unconfigure
        engine = make_engine(f"sqlite:///{path}")
        SQLModel.metadata.create_all(engine)
        engine.dispose()  # the last connection closed: the WAL is checkpointed into the file and removed
        _sqlite_schema_file = path
    return _sqlite_schema_file


def pytest_unconfigure(config):
    if _sqlite_schema_file is not None:
        shutil.rmtree(_sqlite_schema_file.parent, ignore_errors=True)


def copy_sqlite_schema(database_url: str) -> bool:
    """A new SQLite database starts as a copy of the schema file (much cheaper than CREATE TABLE for
    every table per test); True when copied. An existing database is left alone."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or os.path.exists(database):
        return False
    shutil.copyfile(sqlite_schema_file(), database)
    return True


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, shared by every app the tests build in this process: each test's app
    would otherwise parse and compile every template it renders again. An entry is used only while the
    template's source is unchanged (Jinja checks the checksum)."""

    def __init__(self):
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def _compile_url_builders_once() -> None:
    """Werkzeug compiles two URL builder functions (Python source, then `compile`) for every route of every
    app: most of create_app's time, once per test. A builder depends on nothing but its rule (the
    converters and the rule itself are reached through its `self` argument at call time), so the same
    rule's builder is made once per process and reused."""
    original = Rule._compile_builder
    builders: dict[tuple, object] = {}

    def compile_builder(self, append_unknown: bool = True):
        defaults = tuple(sorted((name, repr(value)) for name, value in (self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in builders:
            builders[key] = original(self, append_unknown)
        return builders[key]

    Rule._compile_builder = compile_builder


_compile_url_builders_once()


def build_app(database_url: str, smtp_port: int, tmp_path, **overrides):
    config = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "QUEUE_IMMEDIATE": True,
        "RUN_WORKER_IN_PROCESS": False,
        "BASE_URL": "http://store.test",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "SECRET_KEY": "test-" + secrets.token_hex(16),
        "PROVIDER_LATENCY_MS": 0,
        **({} if overrides.get("APP_ENV") == "production" else CHEAPEST_ARGON2),
    }
    config.update(overrides)
    copied = database_url.startswith("sqlite") and copy_sqlite_schema(database_url)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    if database_url.startswith("sqlite") and not copied:
        SQLModel.metadata.create_all(app.extensions["db_engine"])
    limiter.reset()
    return app


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(database_url, smtp_server, tmp_path, app_config):
    controller, _ = smtp_server
    app = build_app(database_url, controller.port, tmp_path, **app_config)
    with app.app_context():
        yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def session(app):
    return db_session()


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories ----------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def make_partner(session):
    from app.services import partners

    def make(*, funds: str = "1000", currency: str = "USD", slug: str | None = None, name: str = "Test Partner"):
        partner, credentials = partners.create_partner(
            session, slug=slug or unique("p"), name=name, currency=currency, funds=Money.parse(funds, currency)
        )
        return partner

    return make


@pytest.fixture
def make_brand(session):
    from app.db import write_transaction
    from app.models import Brand

    def make(
        name: str | None = None,
        *,
        category="Food & Dining",
        denominations="1000,2500,5000",
        min_amount=None,
        max_amount=None,
        currencies="USD",
        has_pin=True,
        supports_retry=True,
    ):
        name = name or unique("Brand")
        brand = Brand(
            slug=name.lower().replace(" ", "-"),
            name=name,
            category=category,
            description=f"{name} gift card",
            currencies=currencies,
            denominations=denominations,
            min_amount=min_amount,
            max_amount=max_amount,
            has_pin=has_pin,
            supports_retry=supports_retry,
            redemption_url="https://redeem.example.com/x?code={code}",
            redemption_instructions="1. Open the site.\n2. Enter the code.",
        )
        with write_transaction(session):
            session.add(brand)
        return brand

    return make


@pytest.fixture
def make_consumer(session):
    from app.services import consumers

    def make(partner, *, funds: str = "100", email: str | None = None, name: str = "Casey Consumer", currency: str = "USD"):
        return consumers.create_consumer(
            session,
            partner=partner,
            email=email or f"{unique('c')}@example.com",
            full_name=name,
            initial_funds=Money.parse(funds, currency),
        ).consumer

    return make


TEAM_PASSWORD = "Portal-Pass-2026!"


@pytest.fixture
def make_team_member(session):
    """A team member of `partner` who has already chosen their password (TEAM_PASSWORD)."""
    from app.db import write_transaction
    from app.security import hash_password
    from app.services import team

    def make(partner, role: str = "admin", *, email: str | None = None, name: str = "Terry Team", ready: bool = True):
        member, _temporary = team.invite(
            session, partner=partner, email=email or f"{unique(role)}@example.com", full_name=name, role=role, actor="test"
        )
        if ready:
            with write_transaction(session):
                member.password_hash = hash_password(TEAM_PASSWORD)
                member.must_change_password = False
                member.temporary_password_expires_at = None
                session.add(member)
        return member

    return make
