"""Each API key has one request budget for the whole partner API (API_RATE_LIMIT); past it every
endpoint answers 429 in the seed's envelope with Retry-After, and changes nothing."""

from __future__ import annotations

import pytest

from app.api import URL_PREFIX
from tests.integration.api_client import call, counts, decoded, failed, ok


@pytest.fixture
def app_config():
    return {"API_RATE_LIMIT": "3/minute"}


def test_past_the_limit_a_key_gets_429_with_retry_after_on_every_endpoint(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    ok(call(client, credentials, "GET", "/balance"))
    ok(call(client, credentials, "GET", "/catalog"))
    ok(call(client, credentials, "GET", "/customers"))
    before = counts(session)

    for method, path, body in [
        ("GET", "/balance", None),
        ("POST", "/customer", {"fullName": "Ann Lee", "email": "ann@example.com", "currency": "usd", "initialFunds": 10}),
    ]:
        response = call(client, credentials, method, path, body)
        message = failed(response, 429, "TOO_MANY_REQUESTS")
        assert message == "Too many requests for this API key (at most 3 per 1 minute). Retry after the seconds in Retry-After."
        assert 0 < int(response.headers["Retry-After"]) <= 60
    assert counts(session) == before


def test_each_key_has_its_own_budget(client, partner_with_key):
    _partner, credentials = partner_with_key()
    _other, other_credentials = partner_with_key()
    for _ in range(3):
        ok(call(client, credentials, "GET", "/balance"))
    failed(call(client, credentials, "GET", "/balance"), 429, "TOO_MANY_REQUESTS")

    ok(call(client, other_credentials, "GET", "/balance"))


def test_badly_signed_requests_count_against_the_key_too(client, partner_with_key):
    _partner, credentials = partner_with_key()
    headers = {
        "x-api-key": credentials.api_key,
        "x-client-id": credentials.client_id,
        "x-signature": "forged",
        "x-timestamp": "2026-01-01T00:00:00Z",
    }
    for _ in range(3):
        response = client.get(URL_PREFIX + "/balance", headers=headers)
        assert response.status_code == 403 and "Message" in decoded(response)

    failed(call(client, credentials, "GET", "/balance"), 429, "TOO_MANY_REQUESTS")
