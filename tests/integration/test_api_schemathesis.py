"""The partner API against its own OpenAPI document: schemathesis generates requests (valid and
invalid) for every operation, a hook signs each one as the seed says (a fresh timestamp each, so
no signature repeats), and every answer must be no 5xx and match the documented schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app import create_app
from app.api import URL_PREFIX
from app.services import catalog

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


class Signer:
    """Signs every request schemathesis sends with the current test's credentials."""

    def __init__(self):
        self.credentials = None
        self.last = datetime.min.replace(tzinfo=UTC)
        self.lock = threading.Lock()

    def timestamp(self) -> str:
        with self.lock:  # strictly increasing, so no two requests share a signature
            self.last = max(datetime.now(UTC), self.last + timedelta(microseconds=1))
            return self.last.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def __call__(self, context, case, kwargs):
        if self.credentials is None or not case.path.startswith(URL_PREFIX) or case.path.endswith(("/openapi.json", "/docs")):
            return
        body = case.body
        if isinstance(body, NotSet):
            body = b""
        elif isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body:
            kwargs["data"] = body  # sent as signed, byte for byte
        timestamp = self.timestamp()
        case.headers = {
            **(case.headers or {}),
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",  # Flask's test client hands schemathesis the bytes as sent, not decompressed
            "x-api-key": self.credentials.api_key,
            "x-client-id": self.credentials.client_id,
            "x-timestamp": timestamp,
            "x-signature": signature(self.credentials, case.method.upper(), timestamp, body),
        }


def signature(credentials, method: str, timestamp: str, body: bytes) -> str:
    """The seed's signature, over the body's bytes (a generated body need not be UTF-8)."""
    to_sign = f"{method}\n{timestamp}\n{credentials.client_id}\n".encode() + body
    return base64.b64encode(hmac.new(credentials.hmac_secret.encode(), to_sign, hashlib.sha256).digest()).decode()


SIGNER = Signer()


@pytest.fixture
def app_config():
    return {"API_RATE_LIMIT": "100000/minute"}


@pytest.fixture
def signed_requests(session, partner_with_key, make_consumer, make_brand):
    """A partner whose customer 1 can buy the documented example order; every request signed as it."""
    partner, credentials = partner_with_key(funds="10000")
    make_consumer(partner, funds="500")
    catalog.make_available(
        session,
        partner=partner,
        brand=make_brand("Bluefin Sushi", denominations="1000,2500,5000"),
        bonus_type="cash",
        bonus_percent=Decimal("5"),
    )
    SIGNER.credentials = credentials
    hook = schemathesis.hook("before_call")(SIGNER)
    yield credentials
    schemathesis.hooks.GLOBAL_HOOK_DISPATCHER.unregister(hook)
    SIGNER.credentials = None


# The document as the app serves it. (Loaded here, not from a fixture: schemathesis 4.32.5's
# `from_fixture` reads `Node._nodeid`, which pytest 9.2 no longer has.) Each test then sends its
# requests to its own app and fresh database.
schema = schemathesis.openapi.from_wsgi(
    URL_PREFIX + "/openapi.json",
    create_app({"APP_ENV": "test", "DATABASE_URL": "sqlite://", "QUEUE_IMMEDIATE": True, "RUN_WORKER_IN_PROCESS": False}),
    config=CONFIG,
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented_and_never_with_a_5xx(app, signed_requests, case):
    case.call_and_validate(app=app, session=app.test_client(), checks=CHECKS)
