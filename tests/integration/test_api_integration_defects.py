"""Issue #19, points 1-8: what an outside integrator's client (and the seed's Postman collection) found
wrong in the partner API. One test (or a few) per defect, each failing before its fix: a body too large
gets the API's JSON 413; .NET, Java and +0000 timestamps are accepted; names written with joiners are
welcome and a refused character is named; a repeated funds credit answers its first balance; Retry-After
only on 429; the catalog lists only what the partner can sell; a number of thousands of digits names its
field; POST /customer takes an idempotency key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import select

from app.api import URL_PREFIX
from app.api.responses import dumps
from app.models import Consumer, CustomerCreation, EmailMessage
from app.services import catalog
from tests.integration.api_client import (
    call,
    counts,
    decoded,
    failed,
    ok,
    partner_available,
    seed_headers,
    seed_timestamp,
    sign,
    wallet,
)

DUPLICATE = "Some customers already have wallets in the requested currency"
KEY_REUSED = "idempotencyKey was already used for a different request"


def customer_body(email: str = "ann.lee@example.com", **fields) -> dict:
    body = {"fullName": "Ann Lee", "email": email, "currency": "usd", "initialFunds": Decimal("100.00")}
    body.update(fields)
    return body


def signed_post(client, credentials, path: str, text: str, *, timestamp: str | None = None, **headers):
    """POST `text` exactly as given, v1-signed with `timestamp` (the seed's format when None)."""
    timestamp = timestamp or seed_timestamp()
    signature = sign("POST", credentials.client_id, text, credentials.hmac_secret, timestamp)
    all_headers = seed_headers(credentials, text, **{"x-timestamp": timestamp, "x-signature": signature})
    all_headers.update(headers)
    return client.post(URL_PREFIX + path, data=text.encode("utf-8"), headers=all_headers)


def consumers_of(session, partner) -> list[Consumer]:
    session.rollback()
    return list(session.exec(select(Consumer).where(Consumer.partner_id == partner.id)).all())


# --- 1. a body over the size limit ------------------------------------------------------------


def test_a_body_over_the_size_limit_gets_the_apis_json_413_with_no_cookie_and_no_html(app, client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    limit = app.config["MAX_CONTENT_LENGTH"]
    text = dumps(customer_body(fullName="x" * limit))
    before = counts(session)

    response = signed_post(client, credentials, "/customer", text)

    message = failed(response, 413, "VALIDATION_ERROR")
    assert message == f"The request body is too large: at most {limit} bytes."
    assert response.mimetype == "application/json" and "<html" not in response.get_data(as_text=True).lower()
    assert "Set-Cookie" not in response.headers
    assert counts(session) == before


def test_the_openapi_document_lists_the_413_on_every_signed_operation(client):
    document = decoded(client.get(URL_PREFIX + "/openapi.json"))

    assert document["components"]["responses"]["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation["security"]:
                assert operation["responses"]["413"] == {"$ref": "#/components/responses/413"}, (method, path)


# --- 2. ISO 8601 timestamps as other languages write them ----------------------------------


def _fraction(moment: datetime, digits: int) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}{'1234'}"[:digits]


@pytest.mark.parametrize(
    "timestamp_format",
    [
        lambda m: _fraction(m, 7) + "Z",  # .NET: DateTime.UtcNow.ToString("o") -> 2026-12-03T15:40:26.8265971Z
        lambda m: _fraction(m, 9) + "Z",  # Java: Instant.now() with nanoseconds
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%S+0000"),  # strftime's %z, PHP's DATE_ISO8601
        lambda m: _fraction(m, 3) + "+0000",
        lambda m: _fraction(m, 7) + "+00:00",
        lambda m: m.astimezone(timezone(timedelta(hours=-5))).strftime("%Y-%m-%dT%H:%M:%S.%f-0500"),
        lambda m: m.astimezone(timezone(timedelta(hours=5, minutes=30))).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123+05:30",
    ],
    ids=[
        "dotnet-7-digits",
        "java-9-digits",
        "offset-0000",
        "millis-offset-0000",
        "7-digits-offset",
        "minus-0500",
        "9-digits-ist",
    ],
)
def test_timestamps_with_7_or_9_fractional_digits_or_an_offset_without_a_colon_are_accepted(
    client, partner_with_key, timestamp_format
):
    _partner, credentials = partner_with_key()
    timestamp = timestamp_format(datetime.now(UTC))

    response = signed_post(client, credentials, "/customer", dumps(customer_body()), timestamp=timestamp)

    assert response.status_code == 200, (timestamp, response.get_data(as_text=True))


@pytest.mark.parametrize("minutes", [-6, 6])
def test_the_freshness_window_still_applies_to_those_timestamps(client, session, partner_with_key, minutes):
    _partner, credentials = partner_with_key()
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    before = counts(session)

    for timestamp in (_fraction(moment, 7) + "Z", _fraction(moment, 9) + "+0000"):
        response = signed_post(client, credentials, "/customer", dumps(customer_body()), timestamp=timestamp)
        assert response.status_code == 403, timestamp
    assert counts(session) == before


def test_the_signature_covers_the_timestamp_as_sent_not_as_read(client, partner_with_key):
    _partner, credentials = partner_with_key()
    text = dumps(customer_body())
    sent = _fraction(datetime.now(UTC), 7) + "Z"
    read_alike = sent[:26] + "+00:00"  # the same moment to the microsecond, written another way
    headers = seed_headers(
        credentials,
        text,
        **{"x-timestamp": sent, "x-signature": sign("POST", credentials.client_id, text, credentials.hmac_secret, read_alike)},
    )

    response = client.post(URL_PREFIX + "/customer", data=text.encode(), headers=headers)

    assert response.status_code == 403


# --- 3. names written with joiners ------------------------------------------------------------

NAMES = {
    "persian-zwnj": "علی حسن\u200cزاده",
    "hindi-conjunct-zwj": "क\u094d\u200dष रस्तोगी",
    "emoji-zwj-sequence": "Sam \U0001f469\u200d\U0001f4bb",
    "variation-selector": "Love \u2764\ufe0f",
    "skin-tone": "Thumbs \U0001f44d\U0001f3fd",
    "subdivision-flag-tags": "Iain \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_a_name_with_joiners_variation_selectors_or_emoji_is_accepted_as_written(client, session, partner_with_key, name):
    partner, credentials = partner_with_key()

    data = ok(call(client, credentials, "POST", "/customer", customer_body(fullName=name)))

    assert data["fullName"] == name
    assert [c.full_name for c in consumers_of(session, partner)] == [name]


@pytest.mark.parametrize(
    "character, named",
    [
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
        ("\u2067", "U+2067 RIGHT-TO-LEFT ISOLATE"),
        ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
        ("\x07", "U+0007 (a control character)"),
        ("\x9b", "U+009B (a control character)"),
    ],
)
def test_a_control_character_or_bidi_override_is_refused_and_named(client, session, partner_with_key, character, named):
    _partner, credentials = partner_with_key()
    before = counts(session)

    response = call(client, credentials, "POST", "/customer", customer_body(fullName=f"Ann{character}Lee"))

    message = failed(response, 400, "VALIDATION_ERROR")
    assert message == f"fullName: The full name contains {named}, which is not allowed."
    assert counts(session) == before


def test_an_order_for_someone_with_a_joined_name_and_message_goes_through(
    client, session, partner_with_key, make_consumer, make_brand
):
    """The same check serves every name (recipients, senders, the store's and portal's forms) and gift messages."""
    partner, credentials = partner_with_key()
    consumer = make_consumer(partner, funds="100")
    catalog.make_available(session, partner=partner, brand=make_brand("Bluefin Sushi", denominations="1000,2500"))
    body = {
        "customerId": consumer.id,
        "brand": "bluefin-sushi",
        "amount": 25,
        "currency": "usd",
        "externalRefId": "PO-joiners-1",
        "recipient": {"email": "zahra@example.com", "name": NAMES["persian-zwnj"]},
        "senderName": NAMES["emoji-zwj-sequence"],
        "message": "تولدت مبارک\u200c! \U0001f469\u200d\U0001f4bb",
    }

    data = ok(call(client, credentials, "POST", "/orders", body))

    assert data["recipient"]["name"] == NAMES["persian-zwnj"]
    refused = call(client, credentials, "POST", "/orders", body | {"externalRefId": "PO-joiners-2", "message": "hi\u202egpj"})
    assert (
        failed(refused, 400, "VALIDATION_ERROR")
        == "message: The message contains U+202E RIGHT-TO-LEFT OVERRIDE, which is not allowed."
    )


# --- 4. a repeated funds credit answers as the first time ------------------------------------


def test_repeating_a_funds_credit_returns_exactly_the_first_answer_with_its_balance(
    client, session, partner_with_key, make_consumer
):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100")
    credit = {"amount": Decimal("25.00"), "currency": "usd", "reason": "Reward", "idempotencyKey": "reward-000001"}
    first = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", credit)
    assert ok(first)["walletBalance"] == Decimal("125.00")
    later = credit | {"amount": Decimal("10.00"), "idempotencyKey": "reward-000002"}
    ok(call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", later))

    repeat = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", credit)

    assert repeat.status_code == 200
    assert repeat.get_data(as_text=True) == first.get_data(as_text=True)  # "walletBalance": 125.00, not 135.00
    assert wallet(session, consumer.id) == 135_00
    assert partner_available(session, partner) == 1000_00 - 100_00 - 35_00


def test_repeating_a_funds_debit_returns_exactly_the_first_answer(client, session, partner_with_key, make_consumer):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100")
    debit = {"amount": 30, "currency": "usd", "reason": "Correction", "idempotencyKey": "debit-000001"}
    first = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/debit", debit)
    ok(call(client, credentials, "POST", f"/customers/{consumer.id}/funds/credit", debit | {"idempotencyKey": "credit-00002"}))

    repeat = call(client, credentials, "POST", f"/customers/{consumer.id}/funds/debit", debit)

    assert repeat.get_data(as_text=True) == first.get_data(as_text=True)
    assert ok(repeat)["walletBalance"] == Decimal("70.00")
    assert wallet(session, consumer.id) == 100_00


# --- 5. Retry-After only on 429 -----------------------------------------------------------------


def test_answers_other_than_429_carry_no_retry_after(client, partner_with_key):
    _partner, credentials = partner_with_key()

    answers = [
        call(client, credentials, "GET", "/balance"),  # 200
        call(client, credentials, "POST", "/customer", {"fullName": "Ann"}),  # 400
        call(client, credentials, "GET", "/customers/999999"),  # 404
        client.get(URL_PREFIX + "/balance", headers={"x-api-key": credentials.api_key}),  # 403
    ]

    assert [a.status_code for a in answers] == [200, 400, 404, 403]
    for answer in answers:
        assert "Retry-After" not in answer.headers, answer.status_code
        assert "X-RateLimit-Remaining" in answer.headers  # the limiter counted it, and still says how much is left


class TestRetryAfterOn429:
    @pytest.fixture
    def app_config(self):
        return {"API_RATE_LIMIT": "2/minute"}

    def test_a_429_still_says_when_to_retry(self, client, partner_with_key):
        _partner, credentials = partner_with_key()
        for _ in range(2):
            assert "Retry-After" not in ok_response(call(client, credentials, "GET", "/balance")).headers

        refused = call(client, credentials, "GET", "/balance")

        failed(refused, 429, "TOO_MANY_REQUESTS")
        assert 0 < int(refused.headers["Retry-After"]) <= 60


def ok_response(response):
    ok(response)
    return response


# --- 6. the catalog lists only what the partner can sell ----------------------------------------


@pytest.fixture
def dollar_shop(session, partner_with_key, make_brand):
    """A USD partner offered a USD brand, a EUR-only brand and one in both."""
    partner, credentials = partner_with_key(currency="USD")
    for name, currencies in [("Dollar Diner", "USD"), ("Euro Rail", "EUR"), ("Both Ways", "EUR,USD")]:
        catalog.make_available(session, partner=partner, brand=make_brand(name, currencies=currencies, category="Travel"))
    return partner, credentials


def test_the_unfiltered_catalog_lists_only_brands_sold_in_the_partners_currencies(client, dollar_shop):
    _partner, credentials = dollar_shop

    data = ok(call(client, credentials, "GET", "/catalog"))

    assert [b["slug"] for b in data["items"]] == ["both-ways", "dollar-diner"] and data["total"] == 2
    both = data["items"][0]
    assert both["currencies"] == ["EUR", "USD"]  # the brand's own
    assert [a["currency"] for a in both["amounts"]] == ["USD"]  # what this partner can order


def test_filtered_catalog_requests_follow_the_same_rule(client, dollar_shop):
    _partner, credentials = dollar_shop

    by_category = ok(call(client, credentials, "GET", "/catalog?category=Travel"))
    paged = ok(call(client, credentials, "GET", "/catalog?perPage=1&page=2"))
    by_currency = ok(call(client, credentials, "GET", "/catalog?currency=usd"))

    assert [b["slug"] for b in by_category["items"]] == ["both-ways", "dollar-diner"] and by_category["total"] == 2
    assert [b["slug"] for b in paged["items"]] == ["dollar-diner"] and paged["total"] == 2
    assert [b["slug"] for b in by_currency["items"]] == ["both-ways", "dollar-diner"]
    failed(call(client, credentials, "GET", "/catalog?currency=eur"), 400, "VALIDATION_ERROR")


def test_every_brand_the_catalog_lists_can_be_ordered(client, session, dollar_shop, make_consumer):
    partner, credentials = dollar_shop
    consumer = make_consumer(partner, funds="100")

    for n, brand in enumerate(ok(call(client, credentials, "GET", "/catalog"))["items"]):
        amount = brand["amounts"][0]
        body = {
            "customerId": consumer.id,
            "brand": brand["slug"],
            "amount": amount["denominations"][0],
            "currency": amount["currency"],
            "externalRefId": f"PO-{n}",
        }
        ok(call(client, credentials, "POST", "/orders", body))


# --- 7. a number of thousands of digits -------------------------------------------------------

TOO_LONG = "9" * 4301  # one digit past Python's int-string conversion limit


@pytest.mark.parametrize(
    "path, text, field",
    [
        ("/customer", '{"fullName": "Ann Lee", "email": "a@example.com", "currency": "usd", "initialFunds": %s}', "initialFunds"),
        ("/customer", '{"fullName": %s, "email": "a@example.com", "currency": "usd", "initialFunds": 1}', "fullName"),
        ("/orders", '{"customerId": %s, "brand": "x", "amount": 1, "currency": "usd", "externalRefId": "r-1"}', "customerId"),
        (
            "/orders",
            '{"customerId": 1, "brand": "x", "amount": 1, "currency": "usd", "externalRefId": "r-1", "recipient": {"email": "a@example.com", "name": %s}}',
            "recipient.name",
        ),
        ("/campaigns/1/members", '{"customerIds": [1, 2, -%s]}', "customerIds.2"),
        (
            "/customers/1/funds/credit",
            '{"amount": %s, "currency": "usd", "reason": "r", "idempotencyKey": "key-00000001"}',
            "amount",
        ),
    ],
)
def test_a_number_of_thousands_of_digits_is_a_validation_error_naming_its_field(
    client, session, partner_with_key, path, text, field
):
    _partner, credentials = partner_with_key()
    before = counts(session)

    response = call(client, credentials, "POST", path, text % TOO_LONG)

    message = failed(response, 400, "VALIDATION_ERROR")
    assert message == f"{field}: is a number of 4301 digits, too long to be valid."
    assert counts(session) == before


def test_json_nested_too_deeply_is_a_400_not_a_500(client, partner_with_key):
    _partner, credentials = partner_with_key()

    response = call(client, credentials, "POST", "/customer", '{"fullName": ' + "[" * 100_000 + "]" * 100_000 + "}")

    assert failed(response, 400, "VALIDATION_ERROR") == "The request body is nested too deeply."


# --- 8. POST /customer with an idempotency key -----------------------------------------------


@pytest.mark.parametrize("where", ["body", "header", "quoted-header", "both"])
def test_the_same_key_and_body_return_the_first_answer_and_make_one_customer(client, session, partner_with_key, mailbox, where):
    partner, credentials = partner_with_key(funds="1000")
    key = "7f3c2a9e-0b1d-4c5e-8f6a-2b3c4d5e6f70"
    body = customer_body(**({"idempotencyKey": key} if where in ("body", "both") else {}))
    headers = {"Idempotency-Key": f'"{key}"' if where == "quoted-header" else key} if where != "body" else {}

    first = signed_post(client, credentials, "/customer", dumps(body), **headers)
    again = signed_post(client, credentials, "/customer", dumps(body), **headers)

    assert first.status_code == again.status_code == 200, first.get_data(as_text=True)
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert '"walletBalance": 100.00' in again.get_data(as_text=True)
    assert len(consumers_of(session, partner)) == 1
    assert partner_available(session, partner) == 900_00
    assert len(mailbox.to("ann.lee@example.com")) == 1  # one welcome email


def test_a_repeat_answers_as_the_first_time_even_after_the_wallet_changed(client, session, partner_with_key):
    _partner, credentials = partner_with_key(funds="1000")
    body = customer_body(idempotencyKey="customer-000001")
    first = call(client, credentials, "POST", "/customer", body)
    customer_id = ok(first)["id"]
    credit = {"amount": 5, "currency": "usd", "reason": "Reward", "idempotencyKey": "reward-000001"}
    ok(call(client, credentials, "POST", f"/customers/{customer_id}/funds/credit", credit))

    again = call(client, credentials, "POST", "/customer", body)

    assert again.get_data(as_text=True) == first.get_data(as_text=True)  # 100.00, the first answer's balance


def test_the_same_key_with_another_body_is_a_400_and_changes_nothing(client, session, partner_with_key):
    partner, credentials = partner_with_key(funds="1000")
    ok(call(client, credentials, "POST", "/customer", customer_body(idempotencyKey="customer-000001")))
    before = counts(session)

    for changed in (
        customer_body(idempotencyKey="customer-000001", initialFunds=50),
        customer_body("someone.else@example.com", idempotencyKey="customer-000001"),
    ):
        response = call(client, credentials, "POST", "/customer", changed)
        assert failed(response, 400, "VALIDATION_ERROR") == KEY_REUSED
    assert counts(session) == before
    assert partner_available(session, partner) == 900_00


def test_a_key_is_the_partners_own(client, session, partner_with_key):
    partner, credentials = partner_with_key()
    other, other_credentials = partner_with_key()
    body = customer_body(idempotencyKey="customer-000001")

    mine = ok(call(client, credentials, "POST", "/customer", body))
    theirs = ok(call(client, other_credentials, "POST", "/customer", body))

    assert mine["id"] != theirs["id"]
    assert len(consumers_of(session, partner)) == len(consumers_of(session, other)) == 1


def test_without_a_key_a_second_request_is_the_seeds_duplicate_customer_400(client, session, partner_with_key):
    partner, credentials = partner_with_key()
    ok(call(client, credentials, "POST", "/customer", customer_body()))

    response = call(client, credentials, "POST", "/customer", customer_body())

    assert response.get_data(as_text=True) == dumps(
        {"success": False, "error": {"error": "VALIDATION_ERROR", "message": DUPLICATE}}
    )
    assert response.status_code == 400


def test_a_new_key_for_an_existing_customer_is_still_the_duplicate_400(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    ok(call(client, credentials, "POST", "/customer", customer_body(idempotencyKey="customer-000001")))

    response = call(client, credentials, "POST", "/customer", customer_body(idempotencyKey="customer-000002"))

    assert failed(response, 400, "VALIDATION_ERROR") == DUPLICATE
    assert len(session.exec(select(CustomerCreation)).all()) == 1


def test_a_refusal_is_not_kept_so_the_key_works_once_the_cause_is_fixed(client, session, partner_with_key):
    from app.domain.money import Money
    from app.services import partners

    partner, credentials = partner_with_key(funds="50")
    body = customer_body(idempotencyKey="customer-000001")
    assert (
        failed(call(client, credentials, "POST", "/customer", body), 402, "BUSINESS_RULE_ERROR")
        == "Unable to pre-charge all currency groups"
    )
    partners.fund_partner(session, partner=partner, amount=Money.parse("100", "USD"))

    data = ok(call(client, credentials, "POST", "/customer", body))

    assert data["walletBalance"] == Decimal("100.00")


@pytest.mark.parametrize(
    "body_key, header_key, message",
    [
        ("short", None, "idempotencyKey must be 8-80 letters, digits or . _ : -"),
        ("has spaces in it", None, "idempotencyKey must be 8-80 letters, digits or . _ : -"),
        (None, "x" * 81, "The Idempotency-Key header must be 8-80 letters, digits or . _ : -"),
        (None, "", "The Idempotency-Key header must be 8-80 letters, digits or . _ : -"),
        (12345678, None, "idempotencyKey must be a string."),
        ("customer-000001", "customer-000002", "idempotencyKey and the Idempotency-Key header differ: send one key."),
    ],
)
def test_a_bad_key_is_a_400_naming_it(client, session, partner_with_key, body_key, header_key, message):
    _partner, credentials = partner_with_key()
    body = customer_body(**({"idempotencyKey": body_key} if body_key is not None else {}))
    before = counts(session)

    response = signed_post(
        client, credentials, "/customer", dumps(body), **({"Idempotency-Key": header_key} if header_key is not None else {})
    )

    assert failed(response, 400, "VALIDATION_ERROR") == message
    assert counts(session) == before


def test_concurrent_retries_with_one_key_make_one_customer_and_all_get_its_answer(app, session, partner_with_key):
    partner, credentials = partner_with_key(funds="1000")
    text = dumps(customer_body(idempotencyKey="customer-race-01"))
    now = datetime.now(UTC)
    start = threading.Barrier(6)
    session.rollback()

    def create(n: int):
        # Each retry is signed with its own timestamp: a signature is accepted once.
        timestamp = seed_timestamp(now - timedelta(milliseconds=n))
        client = app.test_client()
        start.wait()
        return signed_post(client, credentials, "/customer", text, timestamp=timestamp)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(create, range(6)))

    assert [r.status_code for r in responses] == [200] * 6, [r.get_data(as_text=True) for r in responses]
    assert len({r.get_data(as_text=True) for r in responses}) == 1
    assert len(consumers_of(session, partner)) == 1
    assert partner_available(session, partner) == 900_00
    assert len(session.exec(select(EmailMessage).where(EmailMessage.to == "ann.lee@example.com")).all()) == 1


def test_the_openapi_document_describes_the_key_in_the_body_and_the_header(client):
    document = decoded(client.get(URL_PREFIX + "/openapi.json"))
    operation = document["paths"][URL_PREFIX + "/customer"]["post"]

    assert "idempotencyKey" in document["components"]["schemas"]["CustomerCreate"]["properties"]
    assert "idempotencyKey" not in document["components"]["schemas"]["CustomerCreate"].get("required", [])
    header = next(p for p in operation["parameters"] if p.get("name") == "Idempotency-Key")
    assert header["in"] == "header" and header["required"] is False
