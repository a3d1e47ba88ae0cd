"""The partner API's first endpoint, POST /api/partner/v1/customer, driven by a client written
only from the seed document: its Python signing example, its request body and its responses."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from app.api.replay import DatabaseReplayStore, RedisReplayStore, make_replay_store
from app.clock import utcnow
from app.db import write_transaction
from app.domain.money import Money
from app.models import Account, ApiKey, ApiSignatureSeen, Consumer, Transaction
from app.services import partners
from tests.integration.api_client import (
    counts,
    decoded,
    generate_signature,
    seed_headers,
    seed_timestamp,
    sign,
)
from tests.integration.conftest import reload

URL = "/api/partner/v1/customer"
FORBIDDEN = {"Message": "User is not authorized to access this resource with an explicit deny in an identity-based policy"}
# The seed's request body, as the seed prints it.
SEED_BODY = """{
  "fullName": "John Doe",
  "email": "john.doe@example.com",
  "currency": "usd",
  "initialFunds": 100.00
}"""


# --- the seed's client (tests/integration/api_client.py) -----------------------------------


def post(client, credentials, body: str, **overrides):
    return client.post(URL, data=body.encode("utf-8"), headers=seed_headers(credentials, body, **overrides))


def body_of(**fields) -> str:
    values = {"fullName": "John Doe", "email": f"{secrets.token_hex(4)}@example.com", "currency": "usd", "initialFunds": 10}
    values.update(fields)
    # Decimal is written as its digits, unquoted: a JSON number a float could not represent exactly.
    encode = lambda v: str(v) if isinstance(v, Decimal) else json.dumps(v)  # noqa: E731
    return "{" + ", ".join(f"{json.dumps(k)}: {encode(v)}" for k, v in values.items() if v is not ...) + "}"


# --- success ------------------------------------------------------------------------------


def test_a_client_written_from_the_seed_creates_a_customer_and_gets_the_seeds_exact_json(
    client, session, partner_with_key, mailbox
):
    partner, credentials = partner_with_key(funds="1000")

    response = post(client, credentials, SEED_BODY)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert '"walletBalance": 100.00' in text
    consumer = session.exec(select(Consumer).where(Consumer.partner_id == partner.id)).one()
    wallet = session.exec(select(Account).where(Account.consumer_id == consumer.id, Account.kind == "general")).one()
    assert decoded(response) == {
        "success": True,
        "data": {
            "id": consumer.id,
            "walletId": str(wallet.id),
            "fullName": "John Doe",
            "email": "john.doe@example.com",
            "walletBalance": Decimal("100.00"),
            "currency": "USD",
        },
    }
    assert wallet.balance == 100_00
    assert partners.partner_funds(session, partner, "USD") == Money(900_00, "USD")
    transaction = session.exec(select(Transaction).where(Transaction.consumer_id == consumer.id)).one()
    assert transaction.actor == f"api:{credentials.api_key[:12]}"
    assert "john.doe@example.com" in mailbox.last_to("john.doe@example.com")["To"]


@pytest.mark.parametrize(
    "timestamp_format",
    [
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",  # JavaScript's toISOString()
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda moment: moment.isoformat(timespec="milliseconds"),  # +00:00
        lambda moment: moment.isoformat(),  # microseconds and +00:00
    ],
    ids=["milliseconds-Z", "seconds-Z", "milliseconds-offset", "microseconds-offset"],
)
def test_timestamps_with_or_without_milliseconds_and_with_z_or_an_offset_are_accepted(client, partner_with_key, timestamp_format):
    _partner, credentials = partner_with_key()
    body = body_of()
    timestamp = timestamp_format(datetime.now(UTC))
    signature = sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp)

    response = post(client, credentials, body, **{"x-timestamp": timestamp, "x-signature": signature})

    assert response.status_code == 200, (timestamp, response.get_data(as_text=True))


@pytest.mark.parametrize(
    "currency, funds, initial_funds, balance_text",
    [
        ("USD", "1000", "0", '"walletBalance": 0.00'),
        ("USD", "1000", "12.5", '"walletBalance": 12.50'),
        ("USD", "1000", "7", '"walletBalance": 7.00'),
        ("USD", "1000", "1e2", '"walletBalance": 100.00'),
        ("JPY", "1000", "500", '"walletBalance": 500,'),
    ],
)
def test_the_wallet_balance_is_a_json_number_with_the_currencys_decimal_places(
    client, session, partner_with_key, currency, funds, initial_funds, balance_text
):
    _partner, credentials = partner_with_key(funds=funds, currency=currency)
    body = f'{{"fullName": "Ann Lee", "email": "ann@example.com", "currency": "{currency.lower()}", "initialFunds": {initial_funds}}}'

    response = post(client, credentials, body)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert balance_text in response.get_data(as_text=True)
    assert decoded(response)["data"]["currency"] == currency


def test_an_existing_customer_gets_a_wallet_in_a_new_currency_but_not_a_second_account(client, session, partner_with_key):
    partner, credentials = partner_with_key()
    partners.fund_partner(session, partner=partner, amount=Money.parse("100", "EUR"))
    first = decoded(post(client, credentials, body_of(email="sam@example.com", currency="usd")))["data"]

    response = post(client, credentials, body_of(email="Sam@Example.com", currency="EUR", initialFunds=Decimal("5.25")))

    assert response.status_code == 200, response.get_data(as_text=True)
    second = decoded(response)["data"]
    assert second["id"] == first["id"]
    assert second["walletId"] != first["walletId"]
    assert (second["currency"], second["walletBalance"]) == ("EUR", Decimal("5.25"))
    assert counts(session)["Consumer"] == 1


def test_using_a_key_records_when_it_was_last_used_at_most_once_a_minute(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    key = session.exec(select(ApiKey).where(ApiKey.prefix == credentials.api_key[:12])).one()
    assert key.last_used_at is None

    assert post(client, credentials, body_of()).status_code == 200
    first_use = reload(session, ApiKey, key.id).last_used_at
    assert first_use is not None and utcnow() - first_use < timedelta(seconds=30)
    assert post(client, credentials, body_of()).status_code == 200
    assert reload(session, ApiKey, key.id).last_used_at == first_use


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ("{not json", "JSON"),
        ("", "JSON"),
        ("[1, 2]", "JSON"),
        ('"a string"', "JSON"),
        (body_of(fullName=...), "fullName"),
        (body_of(email=...), "email"),
        (body_of(currency=...), "currency"),
        (body_of(initialFunds=...), "initialFunds"),
        (body_of(fullName=None), "fullName"),
        (body_of(fullName=42), "fullName"),
        (body_of(fullName="   "), "fullName"),
        (body_of(fullName="<script>"), "fullName"),
        (body_of(email=["a@example.com"]), "email"),
        (body_of(email="not-an-email"), "email"),
        (body_of(currency=840), "currency"),
        (body_of(currency="xyz"), "currency"),
        (body_of(currency="dollars"), "currency"),
        (body_of(currency="EUR"), "currency"),  # a real currency the partner does not use
        (body_of(initialFunds="100.00"), "initialFunds"),
        (body_of(initialFunds=True), "initialFunds"),
        (body_of(initialFunds=Decimal("1.005")), "initialFunds"),
        (body_of(initialFunds=-1), "initialFunds"),
        (body_of(initialFunds=Decimal("-0.01")), "initialFunds"),
        (body_of(initialFunds=Decimal("1e999999999")), "initialFunds"),
        (body_of().replace('"initialFunds": 10', '"initialFunds": NaN'), "JSON"),
        (body_of().replace('"initialFunds": 10', '"initialFunds": Infinity'), "JSON"),
    ],
)
def test_bad_input_is_a_400_validation_error_naming_the_field_and_creates_nothing(
    client, session, partner_with_key, mailbox, body, field
):
    _partner, credentials = partner_with_key()
    before = counts(session)

    response = post(client, credentials, body)

    assert response.status_code == 400, response.get_data(as_text=True)
    payload = decoded(response)
    assert set(payload) == {"success", "error"} and payload["success"] is False
    assert set(payload["error"]) == {"error", "message"}
    assert payload["error"]["error"] == "VALIDATION_ERROR"
    assert field in payload["error"]["message"]
    assert counts(session) == before
    assert mailbox.messages == []


def test_a_customer_who_already_has_a_wallet_in_the_currency_gets_the_seeds_400(client, session, partner_with_key, mailbox):
    _partner, credentials = partner_with_key()
    assert post(client, credentials, SEED_BODY).status_code == 200
    before = counts(session)
    mailbox.clear()

    response = post(client, credentials, SEED_BODY.replace("john.doe@", "John.Doe@").replace('"usd"', '"USD"'))

    assert response.status_code == 400
    assert decoded(response) == {
        "success": False,
        "error": {"error": "VALIDATION_ERROR", "message": "Some customers already have wallets in the requested currency"},
    }
    assert counts(session) == before
    assert mailbox.messages == []


def test_partner_funds_too_low_is_the_seeds_402_and_creates_nothing(client, session, partner_with_key, mailbox):
    partner, credentials = partner_with_key(funds="99.99")
    before = counts(session)

    response = post(client, credentials, SEED_BODY)

    assert response.status_code == 402
    assert decoded(response) == {
        "success": False,
        "error": {"error": "BUSINESS_RULE_ERROR", "message": "Unable to pre-charge all currency groups"},
    }
    assert counts(session) == before
    assert partners.partner_funds(session, partner, "USD") == Money(99_99, "USD")
    assert mailbox.messages == []


def test_unknown_urls_and_methods_under_the_api_answer_in_the_json_envelope(client, partner_with_key):
    _partner, credentials = partner_with_key()

    missing = client.get("/api/partner/v1/nothing-here", headers=seed_headers(credentials, "", method="GET"))
    assert missing.status_code == 404
    assert decoded(missing)["success"] is False and decoded(missing)["error"]["error"] == "NOT_FOUND"

    wrong_method = client.get(URL, headers=seed_headers(credentials, "", method="GET"))
    assert wrong_method.status_code == 405
    assert decoded(wrong_method)["error"]["error"] == "METHOD_NOT_ALLOWED"
    assert "POST" in wrong_method.headers["Allow"]

    # The rest of the site keeps its HTML pages.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_an_unexpected_failure_is_a_json_500_in_the_envelope(app, client, partner_with_key, monkeypatch):
    _partner, credentials = partner_with_key()

    def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("app.api.customers.create_consumer", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = post(client, credentials, SEED_BODY)

    assert response.status_code == 500
    assert decoded(response) == {
        "success": False,
        "error": {"error": "INTERNAL_ERROR", "message": "Something went wrong on our side. Please try again later."},
    }


# --- authentication ---------------------------------------------------------------------------


def _stale(credentials, body):
    timestamp = seed_timestamp(datetime.now(UTC) - timedelta(minutes=6))
    return {
        "x-timestamp": timestamp,
        "x-signature": sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp),
    }


def _future(credentials, body):
    timestamp = seed_timestamp(datetime.now(UTC) + timedelta(minutes=6))
    return {
        "x-timestamp": timestamp,
        "x-signature": sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp),
    }


def _wrong_client_id(credentials, body):
    other = str(uuid.uuid4())
    timestamp = seed_timestamp()
    return {
        "x-client-id": other,
        "x-timestamp": timestamp,
        "x-signature": sign("POST", other, body, credentials.hmac_secret, timestamp),
    }


def _wrong_secret(credentials, body):
    timestamp = seed_timestamp()
    return {"x-timestamp": timestamp, "x-signature": sign("POST", credentials.client_id, body, "not-the-secret", timestamp)}


def _wrong_method_signed(credentials, body):
    timestamp = seed_timestamp()
    return {"x-timestamp": timestamp, "x-signature": sign("PUT", credentials.client_id, body, credentials.hmac_secret, timestamp)}


def _timestamp_changed_after_signing(credentials, body):
    signature, timestamp = generate_signature("POST", credentials.client_id, body, credentials.hmac_secret)
    return {"x-signature": signature, "x-timestamp": timestamp.replace("Z", "+00:00")}


def _no_timezone(credentials, body):
    timestamp = seed_timestamp()[:-1]
    return {
        "x-timestamp": timestamp,
        "x-signature": sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp),
    }


def _not_a_timestamp(credentials, body):
    timestamp = "yesterday"
    return {
        "x-timestamp": timestamp,
        "x-signature": sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp),
    }


REFUSALS = {
    "stale by 6 minutes": _stale,
    "6 minutes in the future": _future,
    "wrong client id": _wrong_client_id,
    "wrong secret": _wrong_secret,
    "signed for another method": _wrong_method_signed,
    "timestamp changed after signing": _timestamp_changed_after_signing,
    "timestamp without a timezone": _no_timezone,
    "not a timestamp": _not_a_timestamp,
    "unknown key": lambda credentials, body: {"x-api-key": "gsk_" + secrets.token_urlsafe(24)},
    "no api key": lambda credentials, body: {"x-api-key": ""},
    "no client id": lambda credentials, body: {"x-client-id": ""},
    "no signature": lambda credentials, body: {"x-signature": ""},
    "no timestamp": lambda credentials, body: {"x-timestamp": ""},
    "garbage signature": lambda credentials, body: {"x-signature": "é" * 44},
}


@pytest.mark.parametrize("make_headers", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_badly_authenticated_request_is_the_seeds_403_and_creates_nothing(
    client, session, partner_with_key, mailbox, make_headers
):
    _partner, credentials = partner_with_key()
    before = counts(session)
    body = SEED_BODY

    headers = seed_headers(credentials, body)
    headers.update(make_headers(credentials, body))
    response = client.post(URL, data=body.encode(), headers={k: v for k, v in headers.items() if v != ""})

    assert response.status_code == 403
    assert decoded(response) == FORBIDDEN
    assert counts(session) == before
    assert mailbox.messages == []


def test_a_replayed_request_is_refused_even_though_its_signature_is_valid(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    headers = seed_headers(credentials, SEED_BODY)

    assert client.post(URL, data=SEED_BODY.encode(), headers=headers).status_code == 200
    after_first = counts(session)
    again = client.post(URL, data=SEED_BODY.encode(), headers=headers)

    assert again.status_code == 403
    assert decoded(again) == FORBIDDEN
    assert counts(session) == after_first


def test_a_tampered_body_is_refused(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    headers = seed_headers(credentials, SEED_BODY)
    before = counts(session)

    response = client.post(URL, data=SEED_BODY.replace("100.00", "900.00").encode(), headers=headers)

    assert response.status_code == 403
    assert decoded(response) == FORBIDDEN
    assert counts(session) == before


def test_a_revoked_key_is_refused(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    key = session.exec(select(ApiKey).where(ApiKey.prefix == credentials.api_key[:12])).one()
    with write_transaction(session):
        key.revoked_at = utcnow()
        session.add(key)
    before = counts(session)

    response = post(client, credentials, SEED_BODY)

    assert response.status_code == 403
    assert decoded(response) == FORBIDDEN
    assert counts(session) == before


def test_a_partners_keys_cannot_act_for_another_partner(client, session, partner_with_key):
    partner_a, a = partner_with_key()
    partner_b, b = partner_with_key()
    before = counts(session)

    # A's key and secret, claiming to be B.
    timestamp = seed_timestamp()
    as_b = {
        "x-client-id": b.client_id,
        "x-timestamp": timestamp,
        "x-signature": sign("POST", b.client_id, SEED_BODY, a.hmac_secret, timestamp),
    }
    # B's key and client id, signed with A's secret.
    timestamp = seed_timestamp()
    b_signed_by_a = {
        "x-api-key": b.api_key,
        "x-client-id": b.client_id,
        "x-timestamp": timestamp,
        "x-signature": sign("POST", b.client_id, SEED_BODY, a.hmac_secret, timestamp),
    }

    for overrides in (as_b, b_signed_by_a):
        response = post(client, a, SEED_BODY, **overrides)
        assert response.status_code == 403
        assert decoded(response) == FORBIDDEN
    assert counts(session) == before

    # Each partner's own credentials still work, and only for its own customers.
    assert decoded(post(client, a, SEED_BODY))["success"] is True
    assert decoded(post(client, b, SEED_BODY))["success"] is True
    owners = session.exec(select(Consumer.partner_id).where(Consumer.email == "john.doe@example.com")).all()
    assert sorted(owners) == sorted([partner_a.id, partner_b.id])


def test_the_api_needs_no_csrf_token_or_cookie(client, partner_with_key):
    _partner, credentials = partner_with_key()

    response = post(client, credentials, SEED_BODY)

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


# --- the replay store -------------------------------------------------------------------------


def test_the_database_replay_store_accepts_a_signature_once_and_forgets_it_after_ten_minutes(session):
    store = DatabaseReplayStore()
    now = utcnow()
    signature_hash = hashlib.sha256(b"a signature").hexdigest()

    with write_transaction(session):
        assert store.remember(session, signature_hash, now - timedelta(minutes=11))
    with write_transaction(session):
        assert not store.remember(session, signature_hash, now - timedelta(minutes=11))
    # Another process's store purges on its first use: the 11-minute-old row is gone, so the
    # signature (whose timestamp would be refused long before) is accepted again.
    with write_transaction(session):
        assert DatabaseReplayStore().remember(session, signature_hash, now)
    with write_transaction(session):
        assert not store.remember(session, signature_hash, now)
    assert session.exec(select(func.count()).select_from(ApiSignatureSeen)).one() == 1


def test_the_redis_replay_store_accepts_a_signature_once(session):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    prefix = f"test:{secrets.token_hex(4)}:"
    store = RedisReplayStore(client, prefix=prefix)
    try:
        assert store.remember(session, "abc", utcnow())
        assert not store.remember(session, "abc", utcnow())
        assert 0 < client.ttl(prefix + "abc") <= 600
    finally:
        client.delete(prefix + "abc")
    assert isinstance(make_replay_store("redis://127.0.0.1:6379/0"), RedisReplayStore)
    assert isinstance(make_replay_store(""), DatabaseReplayStore)
