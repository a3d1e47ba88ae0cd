"""A test client that behaves like a browser: it reads the CSRF token off the page it came from."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event

from app.db import db_session
from app.services import consumer_auth
from app.services.ledger import ledger_problems
from tests.conftest import reload, temporary_password_in  # noqa: F401  (reload: test modules import it from here)
from tests.integration.api_client import partner_with_key  # noqa: F401  (a fixture: every API test module may ask for it)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def redirect_path(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(autouse=True)
def ledger_stays_balanced(app):
    """After every integration test: each transaction sums to zero, each cached balance equals
    its entries, and no wallet or partner funds account is negative."""
    yield
    session = db_session()
    session.rollback()
    assert ledger_problems(session) == []


class StoreBrowser:
    def __init__(self, client, partner):
        self.client = client
        self.partner = partner
        self.token = None

    def url(self, path: str) -> str:
        return f"/s/{self.partner.slug}{path}"

    def get(self, path: str, **kwargs):
        response = self.client.get(self.url(path) if path.startswith("/") else path, **kwargs)
        match = CSRF.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        response = self.client.post(self.url(path) if path.startswith("/") else path, data=data, **kwargs)
        match = CSRF.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1)
        return response

    def login(self, email: str, password: str):
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})


@pytest.fixture
def store(client, make_partner):
    """A browser on a fresh partner's store."""
    return StoreBrowser(client, make_partner())


@pytest.fixture
def new_consumer(store, make_consumer, mailbox):
    """A consumer just created, with the temporary password from their welcome email."""
    consumer = make_consumer(store.partner)
    return SimpleNamespace(
        id=consumer.id,
        email=consumer.email,
        model=consumer,
        temporary_password=temporary_password_in(mailbox.last_to(consumer.email)),
        password=None,
    )


@pytest.fixture
def signed_in(store, new_consumer):
    """A consumer through first login: trusted password set and terms accepted."""
    store.login(new_consumer.email, new_consumer.temporary_password)
    store.get("/welcome/password")
    store.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"})
    store.get("/terms")
    store.post("/terms", {"accept": "yes", "version": "1"})
    new_consumer.password = "Correct-horse-42"
    return new_consumer


class PortalBrowser(StoreBrowser):
    """A browser in the partner portal, signed in as one team member (each gets its own cookies)."""

    def __init__(self, client, member=None):
        super().__init__(client, None)
        self.member = member

    def url(self, path: str) -> str:
        return "/portal" + path

    def login(self, email: str, password: str):
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})


@pytest.fixture
def portal_as(app):
    """portal_as(member) -> a PortalBrowser signed in as `member` (password TEAM_PASSWORD), in its own client."""
    from tests.conftest import TEAM_PASSWORD

    def sign_in(member, password: str = TEAM_PASSWORD):
        browser = PortalBrowser(app.test_client(), member)
        response = browser.login(member.email, password)
        assert response.status_code == 303, page(response)
        return browser

    return sign_in


@pytest.fixture
def cheap_wrong_guesses(monkeypatch):
    """Wrong guesses fail without Argon2 work: these tests count attempts, not hashes."""
    real_verify = consumer_auth.verify_password

    def verify(password_hash, password):
        return False if password.startswith("wrong-guess-") else real_verify(password_hash, password)

    monkeypatch.setattr(consumer_auth, "verify_password", verify)


@contextmanager
def statements_run(app):
    """The SQL statements sent while the block runs."""
    seen: list[str] = []
    record = lambda _conn, _cursor, statement, *_rest: seen.append(statement)  # noqa: E731
    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
