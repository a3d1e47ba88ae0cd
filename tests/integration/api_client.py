"""A partner API client for the tests, written from the seed: its signing example, its headers and
its JSON. Shared by every tests/integration/test_api_*.py module (import the `partner_with_key`
fixture from here too)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import func, select

from app.api import URL_PREFIX
from app.api.responses import dumps
from app.domain.ledger import AccountKind
from app.models import (
    Account,
    Consumer,
    EmailMessage,
    Entry,
    Order,
    Transaction,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.services import ledger, partners
from tests.conftest import reload


def seed_timestamp(moment: datetime | None = None) -> str:
    """The seed's `datetime.utcnow().isoformat() + 'Z'`, without the deprecated utcnow()."""
    return (moment or datetime.now(UTC)).replace(tzinfo=None).isoformat() + "Z"


def sign(method, client_id, body, hmac_secret, timestamp):
    data_to_sign = f"{method}\n{timestamp}\n{client_id}\n{body}"
    signature = hmac.new(hmac_secret.encode("utf-8"), data_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(signature).decode("utf-8")


def canonical_query_v2(query: str) -> str:
    """v2's QUERY, as the docs say (written here from them, not imported, so tests hold the app to the
    docs): the parameters sorted by name, then value, each kept percent-encoded as sent."""
    parameters = [part.partition("=") for part in query.split("&") if part]
    return "&".join("".join(parameter) for parameter in sorted(parameters, key=lambda p: (p[0], p[2])))


def sign_v2(method, path, query, client_id, body, hmac_secret, timestamp):
    """x-signature-version 2: METHOD, PATH, QUERY, TIMESTAMP, CLIENT_ID, BODY, one per line."""
    data_to_sign = f"{method}\n{path}\n{canonical_query_v2(query)}\n{timestamp}\n{client_id}\n{body}"
    signature = hmac.new(hmac_secret.encode("utf-8"), data_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(signature).decode("utf-8")


def v2_headers(credentials, method: str, path: str, query: str = "", body: str = "", **overrides) -> dict:
    """Headers for a v2 request to `path` (the full path, /api/partner/v1/...) with `query` (no '?')."""
    timestamp = seed_timestamp()
    headers = {
        "x-api-key": credentials.api_key,
        "x-client-id": credentials.client_id,
        "x-signature": sign_v2(method, path, query, credentials.client_id, body, credentials.hmac_secret, timestamp),
        "x-signature-version": "2",
        "x-timestamp": timestamp,
        "Content-Type": "application/json",
    }
    headers.update(overrides)
    return headers


def generate_signature(method, client_id, body, hmac_secret):
    """The seed's Python example."""
    timestamp = seed_timestamp()
    return sign(method, client_id, body, hmac_secret, timestamp), timestamp


def seed_headers(credentials, body: str, method: str = "POST", **overrides) -> dict:
    signature, timestamp = generate_signature(method, credentials.client_id, body, credentials.hmac_secret)
    headers = {
        "x-api-key": credentials.api_key,
        "x-client-id": credentials.client_id,
        "x-signature": signature,
        "x-timestamp": timestamp,
        "Content-Type": "application/json",
    }
    headers.update(overrides)
    return headers


def call(client, credentials, method: str, path: str, body=None, *, version: int = 1):
    """A signed request to URL_PREFIX + path (which may end in ?query); `body` a dict (Decimals stay
    exact) or raw text. version=2 signs with x-signature-version 2 (path and query covered)."""
    text = "" if body is None else body if isinstance(body, str) else dumps(body)
    if version == 2:
        route, _, query = (URL_PREFIX + path).partition("?")
        headers = v2_headers(credentials, method, route, query, text)
    else:
        headers = seed_headers(credentials, text, method=method)
    return client.open(URL_PREFIX + path, method=method, data=text.encode(), headers=headers)


def decoded(response):
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    payload = decoded(response)
    assert payload["success"] is True
    return payload["data"]


def failed(response, status: int, code: str) -> str:
    """The error's message, after checking the seed's exact error shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    payload = decoded(response)
    assert set(payload) == {"success", "error"} and payload["success"] is False
    assert set(payload["error"]) == {"error", "message"} and payload["error"]["error"] == code
    return payload["error"]["message"]


COUNTED = (Consumer, Account, Transaction, Entry, EmailMessage, Order, WebhookEndpoint, WebhookDelivery, WebhookAttempt)


def counts(session) -> dict:
    session.rollback()  # a fresh read: requests write through their own sessions
    return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in COUNTED}


def wallet(session, consumer_id: int, currency: str = "USD") -> int:
    session.rollback()
    consumer = reload(session, Consumer, consumer_id)
    account = ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=consumer.partner_id, consumer_id=consumer_id)
    session.refresh(account)
    return account.balance


def partner_available(session, partner, currency: str = "USD") -> int:
    session.rollback()
    return partners.partner_funds(session, partner, currency).amount


@pytest.fixture
def partner_with_key(session, make_partner):
    """make(funds, currency) -> (partner, credentials with client_id, api_key, hmac_secret)."""

    def make(funds: str = "1000", currency: str = "USD"):
        partner = make_partner(funds=funds, currency=currency)
        return partner, partners.issue_api_key(session, partner=partner)

    return make
