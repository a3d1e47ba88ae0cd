"""The partner API beyond "Create Customer": reading and (de)activating customers, moving funds
once per idempotency key, the partner's balance, and the OpenAPI document and docs page."""

from __future__ import annotations

import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlmodel import select

from app.api import URL_PREFIX
from app.api.openapi import ROUTES
from app.api.schemas import CustomerCreate, FundsChange
from app.db import db_session
from app.domain.errors import InsufficientFunds
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import Consumer, Transaction
from app.services import funds, partners
from tests.integration.api_client import (
    call,
    counts,
    decoded,
    failed,
    ok,
    partner_available,
    wallet,
)
from tests.integration.conftest import reload


@pytest.fixture
def tenant(partner_with_key, make_consumer):
    """A partner (1000.00 funds) with API credentials and one customer holding 100.00."""
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100", email="casey@example.com", name="Casey Consumer")
    return partner, credentials, consumer


def funds_body(**fields) -> dict:
    body = {"amount": Decimal("25.00"), "currency": "usd", "reason": "Quarterly reward", "idempotencyKey": "reward-0001"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


# --- customers ----------------------------------------------------------------------------


def test_a_customer_is_read_by_id_with_their_wallet_balances(client, tenant):
    _partner, credentials, consumer = tenant

    data = ok(call(client, credentials, "GET", f"/customers/{consumer.id}"))

    assert data["id"] == consumer.id
    assert data["fullName"] == "Casey Consumer" and data["email"] == "casey@example.com"
    assert data["status"] == "active"
    assert data["createdAt"].endswith("Z")
    assert len(data["wallets"]) == 1
    assert data["wallets"][0]["currency"] == "USD"
    assert data["wallets"][0]["walletBalance"] == Decimal("100.00")
    assert data["wallets"][0]["bonusBalance"] == Decimal("0.00")
    assert '"walletBalance": 100.00' in call(client, credentials, "GET", f"/customers/{consumer.id}").get_data(as_text=True)


def test_customers_are_listed_page_by_page_and_filtered_by_email_and_status(client, session, tenant, make_consumer):
    partner, credentials, first = tenant
    others = [make_consumer(partner, funds="1", email=f"c{n}@example.com") for n in range(4)]
    from app.services.consumers import set_active

    set_active(session, consumer=others[0], active=False)

    page1 = ok(call(client, credentials, "GET", "/customers?page=1&perPage=2"))
    page3 = ok(call(client, credentials, "GET", "/customers?page=3&perPage=2"))
    assert (page1["page"], page1["perPage"], page1["total"]) == (1, 2, 5)
    assert [c["id"] for c in page1["items"]] == [first.id, others[0].id]
    assert [c["id"] for c in page3["items"]] == [others[3].id]

    by_email = ok(call(client, credentials, "GET", "/customers?email=C2@Example.com"))
    assert [c["id"] for c in by_email["items"]] == [others[2].id] and by_email["total"] == 1
    inactive = ok(call(client, credentials, "GET", "/customers?status=inactive"))
    assert [c["id"] for c in inactive["items"]] == [others[0].id]
    active = ok(call(client, credentials, "GET", "/customers?status=active"))
    assert active["total"] == 4 and active["perPage"] == 20


def test_the_customer_list_shows_only_the_partners_own_customers(client, tenant, partner_with_key, make_consumer):
    _partner, credentials, consumer = tenant
    other_partner, other_credentials = partner_with_key()
    make_consumer(other_partner, email="casey@example.com")

    mine = ok(call(client, credentials, "GET", "/customers?email=casey@example.com"))
    assert [c["id"] for c in mine["items"]] == [consumer.id]
    theirs = ok(call(client, other_credentials, "GET", "/customers"))
    assert consumer.id not in [c["id"] for c in theirs["items"]] and theirs["total"] == 1


@pytest.mark.parametrize(
    "query, field",
    [("page=0", "page"), ("perPage=101", "perPage"), ("perPage=ten", "perPage"), ("status=gone", "status")],
)
def test_a_bad_list_query_is_a_400_naming_the_parameter(client, tenant, query, field):
    _partner, credentials, _consumer = tenant
    message = failed(call(client, credentials, "GET", f"/customers?{query}"), 400, "VALIDATION_ERROR")
    assert field in message


def test_a_customer_is_deactivated_and_reactivated(client, session, tenant):
    _partner, credentials, consumer = tenant

    data = ok(call(client, credentials, "POST", f"/customers/{consumer.id}/deactivate"))
    assert data["status"] == "inactive" and data["id"] == consumer.id
    assert reload(session, Consumer, consumer.id).is_active is False
    assert ok(call(client, credentials, "GET", f"/customers/{consumer.id}"))["status"] == "inactive"

    data = ok(call(client, credentials, "POST", f"/customers/{consumer.id}/reactivate"))
    assert data["status"] == "active"
    assert reload(session, Consumer, consumer.id).is_active is True


def test_an_unknown_customer_is_404_not_found(client, tenant):
    _partner, credentials, _consumer = tenant
    assert "999999" in failed(call(client, credentials, "GET", "/customers/999999"), 404, "NOT_FOUND")


@pytest.mark.parametrize("customer_id", ["2147483648", "99999999999999999999", "0", "-1", "01"])
def test_an_id_no_database_could_hold_is_404_not_a_crash(client, tenant, customer_id):
    _partner, credentials, _consumer = tenant
    failed(call(client, credentials, "GET", f"/customers/{customer_id}"), 404, "NOT_FOUND")
    failed(call(client, credentials, "POST", f"/customers/{customer_id}/funds/credit", funds_body()), 404, "NOT_FOUND")


# --- funds --------------------------------------------------------------------------------


def test_a_credit_moves_money_from_partner_funds_to_the_general_wallet(client, session, tenant):
    partner, credentials, consumer = tenant

    response = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", funds_body())

    data = ok(response)
    assert set(data) == {"transactionId", "customerId", "walletBalance", "currency"}
    assert data["customerId"] == consumer.id and data["currency"] == "USD"
    assert data["walletBalance"] == Decimal("125.00")
    assert '"walletBalance": 125.00' in response.get_data(as_text=True)
    assert wallet(session, consumer.id) == 125_00
    assert partner_available(session, partner) == 875_00
    transaction = session.get(Transaction, data["transactionId"])
    assert transaction.type == "credit" and transaction.amount == 25_00 and transaction.consumer_id == consumer.id
    assert transaction.memo == "Quarterly reward"
    assert transaction.actor == f"api:{credentials.api_key[:12]}"
    assert transaction.idempotency_key == f"{partner.id}:reward-0001"


def test_a_debit_moves_money_from_the_wallet_back_to_partner_funds(client, session, tenant):
    partner, credentials, consumer = tenant

    data = ok(
        call(
            client,
            credentials,
            "POST",
            f"/customers/{consumer.id}/funds/debit",
            funds_body(amount=Decimal("100.00"), idempotencyKey="take-back-1"),
        )
    )

    assert data["walletBalance"] == Decimal("0.00")
    assert wallet(session, consumer.id) == 0
    assert partner_available(session, partner) == 1000_00
    assert session.get(Transaction, data["transactionId"]).type == "debit"


def test_a_debit_never_takes_a_wallet_below_zero(client, session, tenant):
    partner, credentials, consumer = tenant
    before = counts(session)

    response = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/debit", funds_body(amount=Decimal("100.01")))

    assert decoded(response) == {
        "success": False,
        "error": {"error": "BUSINESS_RULE_ERROR", "message": "Insufficient wallet balance"},
    }
    assert response.status_code == 402
    assert counts(session) == before
    assert wallet(session, consumer.id) == 100_00
    assert partner_available(session, partner) == 900_00
    # The key was not used up by the refusal: a smaller debit with it goes through.
    assert ok(call(client, credentials, "POST", f"/customers/{consumer.id}/funds/debit", funds_body(amount=Decimal("100.00"))))[
        "walletBalance"
    ] == Decimal("0.00")


def test_a_credit_beyond_the_partners_funds_is_the_seeds_402_and_changes_nothing(client, session, tenant):
    partner, credentials, consumer = tenant
    before = counts(session)

    response = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", funds_body(amount=Decimal("900.01")))

    assert response.status_code == 402
    assert decoded(response)["error"] == {"error": "BUSINESS_RULE_ERROR", "message": "Unable to pre-charge all currency groups"}
    assert counts(session) == before
    assert wallet(session, consumer.id) == 100_00 and partner_available(session, partner) == 900_00


@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_the_same_idempotency_key_returns_the_first_result_and_moves_money_once(client, session, tenant, direction):
    partner, credentials, consumer = tenant
    path = f"/customers/{consumer.id}/funds/{direction}"

    first = ok(call(client, credentials, "POST", path, funds_body()))
    second = ok(call(client, credentials, "POST", path, funds_body()))

    assert second == first
    expected = 125_00 if direction == "credit" else 75_00
    assert wallet(session, consumer.id) == expected
    assert partner_available(session, partner) == 1000_00 - expected
    assert len(session.exec(select(Transaction).where(Transaction.consumer_id == consumer.id)).all()) == 2  # initial + one


def test_reusing_an_idempotency_key_for_a_different_request_is_a_400(client, session, tenant):
    _partner, credentials, consumer = tenant
    ok(call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", funds_body()))
    before = counts(session)

    for path, body in [
        (f"/customers/{consumer.id}/funds/credit", funds_body(amount=Decimal("26.00"))),
        (f"/customers/{consumer.id}/funds/debit", funds_body()),
    ]:
        message = failed(call(client, credentials, "POST", path, body), 400, "VALIDATION_ERROR")
        assert "idempotencyKey" in message
    assert counts(session) == before


def test_idempotency_keys_belong_to_one_partner(client, session, tenant, partner_with_key, make_consumer):
    _partner, credentials, consumer = tenant
    other_partner, other_credentials = partner_with_key()
    other_consumer = make_consumer(other_partner, funds="0")

    mine = ok(call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", funds_body()))
    theirs = ok(call(client, other_credentials, "POST", f"/customers/{other_consumer.id}/funds/credit", funds_body()))

    assert theirs["transactionId"] != mine["transactionId"]
    assert wallet(session, other_consumer.id) == 25_00 and wallet(session, consumer.id) == 125_00


def test_concurrent_identical_credits_make_one_transaction(app, session, tenant):
    partner, _credentials, consumer = tenant
    partner_id, consumer_id = partner.id, consumer.id
    session.rollback()

    def credit(_):
        with app.app_context():
            own = db_session()
            from app.models import Partner

            return funds.change_funds(
                own,
                partner=own.get(Partner, partner_id),
                consumer_id=consumer_id,
                type=TransactionType.CREDIT,
                amount=Money(25_00, "USD"),
                reason="Race",
                idempotency_key="same-key-for-all",
            ).transaction.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(credit, range(8)))

    assert len(ids) == 1
    assert wallet(session, consumer_id) == 125_00
    assert partner_available(session, partner) == 875_00
    assert (
        len(session.exec(select(Transaction).where(Transaction.idempotency_key == f"{partner_id}:same-key-for-all")).all()) == 1
    )


def test_concurrent_debits_with_different_keys_never_overdraw_the_wallet(app, session, tenant):
    partner, _credentials, consumer = tenant
    partner_id, consumer_id = partner.id, consumer.id
    session.rollback()

    def debit(n):
        with app.app_context():
            own = db_session()
            from app.models import Partner

            try:
                funds.change_funds(
                    own,
                    partner=own.get(Partner, partner_id),
                    consumer_id=consumer_id,
                    type=TransactionType.DEBIT,
                    amount=Money(30_00, "USD"),
                    reason="Race",
                    idempotency_key=f"debit-race-{n:03d}",
                )
                return True
            except InsufficientFunds:
                return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(debit, range(8)))

    assert results.count(True) == 3
    assert wallet(session, consumer_id) == 10_00
    assert partner_available(session, partner) == 990_00


@pytest.mark.parametrize(
    "body, field",
    [
        (funds_body(amount=...), "amount"),
        (funds_body(amount="25.00"), "amount"),
        (funds_body(amount=True), "amount"),
        (funds_body(amount=0), "amount"),
        (funds_body(amount=-5), "amount"),
        (funds_body(amount=Decimal("1.005")), "amount"),
        ('{"amount": 1e999999999, "currency": "usd", "reason": "x", "idempotencyKey": "abcdefgh"}', "amount"),
        (funds_body(currency=...), "currency"),
        (funds_body(currency="dollars"), "currency"),
        (funds_body(currency="xyz"), "currency"),
        (funds_body(currency="EUR"), "currency"),  # real, but not the partner's
        (funds_body(reason=""), "reason"),
        (funds_body(reason="x" * 201), "reason"),
        (funds_body(reason=7), "reason"),
        (funds_body(idempotencyKey=...), "idempotencyKey"),
        (funds_body(idempotencyKey="short"), "idempotencyKey"),
        (funds_body(idempotencyKey="k" * 81), "idempotencyKey"),
        (funds_body(idempotencyKey="has spaces in it"), "idempotencyKey"),
        (funds_body(surprise=1), "surprise"),
        ('{"amount": 25.00, "currency": "usd", "reason": "x", "idempotencyKey": "abcdefgh", "amount": NaN}', "JSON"),
        ("[1, 2]", "JSON object"),
        ("not json", "JSON"),
    ],
)
@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_a_bad_funds_body_is_a_400_naming_the_field_and_changes_nothing(client, session, tenant, body, field, direction):
    partner, credentials, consumer = tenant
    before = counts(session)

    message = failed(
        call(client, credentials, "POST", f"/customers/{consumer.id}/funds/{direction}", body), 400, "VALIDATION_ERROR"
    )

    assert field in message
    assert counts(session) == before
    assert wallet(session, consumer.id) == 100_00 and partner_available(session, partner) == 900_00


def test_the_balance_shows_the_partners_available_funds_per_currency(client, session, tenant):
    partner, credentials, _consumer = tenant
    partners.fund_partner(session, partner=partner, amount=Money(5_000, "JPY"))

    response = call(client, credentials, "GET", "/balance")

    assert ok(response) == {
        "balances": [
            {"currency": "JPY", "available": Decimal("5000")},
            {"currency": "USD", "available": Decimal("900.00")},
        ]
    }
    assert '"available": 900.00' in response.get_data(as_text=True)


# --- tenant isolation and authentication ---------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/customers/{id}", None),
        ("POST", "/customers/{id}/deactivate", None),
        ("POST", "/customers/{id}/reactivate", None),
        ("POST", "/customers/{id}/funds/credit", funds_body()),
        ("POST", "/customers/{id}/funds/debit", funds_body()),
    ],
)
def test_another_partners_customer_is_404_not_found_and_untouched(client, session, tenant, partner_with_key, method, path, body):
    partner, _credentials, consumer = tenant
    _other, other_credentials = partner_with_key()
    before = counts(session)

    response = call(client, other_credentials, method, path.format(id=consumer.id), body)

    failed(response, 404, "NOT_FOUND")
    assert counts(session) == before
    assert reload(session, Consumer, consumer.id).is_active is True
    assert wallet(session, consumer.id) == 100_00 and partner_available(session, partner) == 900_00


@pytest.mark.parametrize("route", [r for r in ROUTES if r.signed], ids=lambda r: f"{r.method} {r.path}")
def test_every_signed_endpoint_refuses_an_unsigned_request_with_the_seeds_403(client, tenant, route):
    _partner, _credentials, consumer = tenant
    path = URL_PREFIX + route.path.format(customerId=consumer.id, webhookId=1, campaignId=1, publicId="ord_0123456789abcdef")
    response = client.open(path, method=route.method, data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 403
    assert decoded(response) == {
        "Message": "User is not authorized to access this resource with an explicit deny in an identity-based policy"
    }


# --- documentation ------------------------------------------------------------------------


def test_the_openapi_document_is_public_3_1_json_listing_every_route(app, client):
    response = client.get(URL_PREFIX + "/openapi.json")

    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"] == "3.1.0"
    served = set()

    def camel(name: str) -> str:  # customer_id -> customerId
        return re.sub(r"_(\w)", lambda m: m[1].upper(), name)

    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + camel(m[1]) + "}", rule.rule)
            served |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == served
    assert {r.endpoint for r in ROUTES} == {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}


def test_the_openapi_schemas_come_from_the_pydantic_models(client):
    document = json.loads(client.get(URL_PREFIX + "/openapi.json").get_data(as_text=True))
    components = document["components"]

    assert components["schemas"]["CustomerCreate"] == CustomerCreate.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    assert components["schemas"]["FundsChange"] == FundsChange.model_json_schema(ref_template="#/components/schemas/{model}")
    assert components["schemas"]["CustomerCreate"]["properties"]["initialFunds"]["type"] == "number"
    assert set(components["schemas"]["CustomerCreate"]["required"]) == {"fullName", "email", "currency", "initialFunds"}
    assert {s["name"] for s in components["securitySchemes"].values()} == {
        "x-api-key",
        "x-client-id",
        "x-signature",
        "x-timestamp",
    }
    assert components["schemas"]["ErrorEnvelope"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}

    credit = document["paths"][URL_PREFIX + "/customers/{customerId}/funds/credit"]["post"]
    assert credit["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FundsChange"}
    assert {"400", "402", "403", "404"} <= set(credit["responses"])
    assert {p["$ref"].rsplit("/", 1)[-1] for p in credit["parameters"] if "$ref" in p} == {
        "apiKey",
        "clientId",
        "signature",
        "timestamp",
    }
    # Every $ref points at something that exists.
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in components[ref[0]], ref


def test_the_docs_page_is_public_html_listing_every_endpoint_without_scripts(client):
    response = client.get(URL_PREFIX + "/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    for route in ROUTES:
        assert route.path in page and route.summary in page
    for header in ("x-api-key", "x-client-id", "x-signature", "x-timestamp", "idempotencyKey", "initialFunds"):
        assert header in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
