"""Campaigns through the partner API: create (funded from partner funds, once per idempotency key), read,
list, change, fund and drain, members (a result per id), pause/resume/end/return-unused, the customer's
campaign balance among its wallets, another partner's campaign 404; the campaign.budget_low (once per
crossing) and campaign.ended webhooks; the CLI's create-api-key and create-partner --brands; seed-demo's
campaign."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlmodel import func, select

from app.models import ApiKey, AuditEvent, Brand, Campaign, CampaignMember, Consumer, PartnerBrand, WebhookDelivery
from app.security import token_hash
from app.services import catalog, consumers, partners
from tests.integration.api_client import (
    call,
    failed,
    ok,
    partner_available,
)
from tests.integration.test_api_webhooks import Receiver


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def shop(session, partner_with_key, make_consumer, make_brand):  # noqa: F811
    """A partner with $1,000 of funds (less $100 in each of two customers' wallets) offering a spa and a pizza place."""
    partner, credentials = partner_with_key(funds="1200")
    spa, pizza = make_brand("Calm Spa", category="Health & Beauty"), make_brand("Pizza Place", category="Food & Dining")
    for brand in (spa, pizza):
        catalog.make_available(session, partner=partner, brand=brand)
    robin = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Member")
    sam = make_consumer(partner, funds="100", email="sam@example.com", name="Sam Member")
    return SimpleNamespace(partner=partner, credentials=credentials, robin=robin, sam=sam, spa=spa, pizza=pizza)


def create_body(**fields) -> dict:
    body = {
        "name": "Wellness",
        "currency": "usd",
        "budget": 500,
        "perCustomerAmount": Decimal("50.00"),
        "categories": ["Health & Beauty"],
        "idempotencyKey": "wellness-2026-01",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def create(client, shop, **fields) -> dict:
    return ok(call(client, shop.credentials, "POST", "/campaigns", create_body(**fields)))


def campaign_count(session) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(Campaign)).one()


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


# --- creating, reading, listing ---------------------------------------------------------------


def test_a_campaign_is_created_from_partner_funds_and_read_back_with_its_money(client, session, shop):
    ends = later(30)
    created = create(client, shop, endsAt=ends, priority=3)

    assert set(created) == {
        "id",
        "name",
        "currency",
        "status",
        "budget",
        "allocated",
        "spent",
        "returned",
        "remaining",
        "unused",
        "members",
        "perCustomerAmount",
        "brands",
        "categories",
        "startsAt",
        "endsAt",
        "priority",
        "eligibleTag",
        "eligibleCreatedAfter",
        "returnUnusedOnEnd",
        "recurrence",
        "lowBudgetThreshold",
        "pauseWhenExhausted",
        "budgetLowSince",
        "createdAt",
        "endedAt",
    }
    assert (created["name"], created["currency"], created["status"], created["priority"]) == ("Wellness", "USD", "active", 3)
    assert (created["budget"], created["remaining"], created["allocated"], created["spent"], created["returned"]) == (
        Decimal("500.00"),
        Decimal("500.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert (created["members"], created["brands"], created["categories"]) == (0, [], ["Health & Beauty"])
    assert created["perCustomerAmount"] == Decimal("50.00") and created["endedAt"] is None
    assert datetime.fromisoformat(created["endsAt"].replace("Z", "+00:00")) == datetime.fromisoformat(ends.replace("Z", "+00:00"))
    assert partner_available(session, shop.partner) == 500_00  # 1200 - 2 x 100 in wallets - 500
    raw = call(client, shop.credentials, "GET", f"/campaigns/{created['id']}").get_data(as_text=True)
    assert '"budget": 500.00' in raw and '"remaining": 500.00' in raw  # exact JSON numbers, two decimals

    assert ok(call(client, shop.credentials, "GET", f"/campaigns/{created['id']}")) == created
    listed = ok(call(client, shop.credentials, "GET", "/campaigns?status=active&perPage=10"))
    assert (listed["items"], listed["page"], listed["perPage"], listed["total"]) == ([created], 1, 10, 1)
    assert ok(call(client, shop.credentials, "GET", "/campaigns?status=paused"))["total"] == 0
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.create")).one()
    assert event.actor == f"api:{shop.credentials.api_key[:12]}"


def test_a_campaign_starting_later_is_scheduled_and_lists_newest_first(client, shop):
    first = create(client, shop, budget=10, idempotencyKey="campaign-one")
    second = create(client, shop, budget=10, idempotencyKey="campaign-two", startsAt=later(2), brands=["calm-spa"], categories=[])

    assert (second["status"], second["brands"], second["categories"]) == ("scheduled", ["calm-spa"], [])
    page = ok(call(client, shop.credentials, "GET", "/campaigns?perPage=1"))
    assert ([c["id"] for c in page["items"]], page["total"]) == ([second["id"]], 2)
    assert [c["id"] for c in ok(call(client, shop.credentials, "GET", "/campaigns?page=2&perPage=1"))["items"]] == [first["id"]]


def test_the_same_idempotency_key_returns_the_same_campaign_and_moves_money_once(client, session, shop):
    first = create(client, shop)
    again = create(client, shop)

    assert again["id"] == first["id"] and campaign_count(session) == 1
    assert partner_available(session, shop.partner) == 500_00
    message = failed(call(client, shop.credentials, "POST", "/campaigns", create_body(budget=400)), 400, "VALIDATION_ERROR")
    assert message.startswith("idempotencyKey") and campaign_count(session) == 1


def test_partner_funds_too_low_is_a_402_and_creates_nothing(client, session, shop):
    message = failed(call(client, shop.credentials, "POST", "/campaigns", create_body(budget=1001)), 402, "BUSINESS_RULE_ERROR")

    assert "Partner funds are too low" in message
    assert campaign_count(session) == 0 and partner_available(session, shop.partner) == 1000_00


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": ...}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "us"}, "currency"),
        ({"budget": "500"}, "budget"),
        ({"budget": -1}, "budget"),
        ({"budget": Decimal("1.005")}, "budget"),
        ({"perCustomerAmount": 0}, "perCustomerAmount"),
        ({"perCustomerAmount": Decimal("0.001")}, "perCustomerAmount"),
        ({"perCustomerAmount": ...}, "perCustomerAmount"),
        ({"brands": ["no-such-brand"]}, "brands"),
        ({"brands": "calm-spa"}, "brands"),
        ({"categories": ["Travel"]}, "categories"),
        ({"startsAt": "2026-12-31T00:00:00"}, "startsAt"),
        ({"startsAt": 1767225600}, "startsAt"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, "endsAt"),
        ({"startsAt": later(5), "endsAt": later(4)}, "endsAt"),
        ({"priority": 1001}, "priority"),
        ({"priority": -1}, "priority"),
        ({"idempotencyKey": "short"}, "idempotencyKey"),
        ({"idempotencyKey": ...}, "idempotencyKey"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_a_bad_campaign_is_a_400_naming_the_field_and_creates_nothing(client, session, shop, fields, field):
    message = failed(call(client, shop.credentials, "POST", "/campaigns", create_body(**fields)), 400, "VALIDATION_ERROR")

    assert message.startswith(field), message
    assert campaign_count(session) == 0 and partner_available(session, shop.partner) == 1000_00


# --- another partner's, unknown ----------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine now"}),
        ("POST", "/budget", {"amount": -100, "idempotencyKey": "drain-0001"}),
        ("POST", "/members", {"customerIds": [1]}),
        ("DELETE", "/members/{robin}", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("POST", "/end", None),
        ("POST", "/return-unused", None),
    ],
)
def test_another_partners_campaign_is_404_and_untouched(client, session, shop, partner_with_key, method, path, body):  # noqa: F811
    campaign = create(client, shop)
    ok(call(client, shop.credentials, "POST", f"/campaigns/{campaign['id']}/members", {"customerIds": [shop.robin.id]}))
    before = ok(call(client, shop.credentials, "GET", f"/campaigns/{campaign['id']}"))
    _other, other_credentials = partner_with_key(funds="1000")

    target = f"/campaigns/{campaign['id']}" + path.format(robin=shop.robin.id)
    failed(call(client, other_credentials, method, target, body), 404, "NOT_FOUND")
    failed(
        call(client, shop.credentials, method, f"/campaigns/{campaign['id'] + 1000}" + path.format(robin=shop.robin.id), body),
        404,
        "NOT_FOUND",
    )

    assert ok(call(client, shop.credentials, "GET", f"/campaigns/{campaign['id']}")) == before
    assert ok(call(client, other_credentials, "GET", "/campaigns"))["total"] == 0


# --- members ---------------------------------------------------------------------------------


def test_members_get_a_result_each_and_the_budget_pays_whom_it_can(client, session, shop, make_consumer, make_partner):
    campaign = create(client, shop, budget=100)
    quiet = make_consumer(shop.partner, funds="0", email="quiet@example.com")
    consumers.set_active(session, consumer=quiet, active=False)
    stranger = make_consumer(make_partner(funds="10"), funds="0", email="stranger@example.com")
    third = make_consumer(shop.partner, funds="0", email="third@example.com")
    path = f"/campaigns/{campaign['id']}/members"

    answer = ok(
        call(
            client,
            shop.credentials,
            "POST",
            path,
            {"customerIds": [shop.robin.id, quiet.id, stranger.id, 2_000_000, shop.sam.id, shop.robin.id, third.id]},
        )
    )

    assert [(r["customerId"], r["result"], r["allocated"]) for r in answer["results"]] == [
        (shop.robin.id, "allocated", Decimal("50.00")),
        (quiet.id, "inactive", None),
        (stranger.id, "not_found", None),
        (2_000_000, "not_found", None),
        (shop.sam.id, "allocated", Decimal("50.00")),
        (third.id, "insufficient_budget", None),
    ]
    assert (answer["campaign"]["members"], answer["campaign"]["allocated"], answer["campaign"]["remaining"]) == (
        2,
        Decimal("100.00"),
        Decimal("0.00"),
    )
    again = ok(call(client, shop.credentials, "POST", path, {"customerIds": [shop.robin.id]}))
    assert [r["result"] for r in again["results"]] == ["already_member"]
    for body, field in (
        ({"customerIds": []}, "customerIds"),
        ({"customerIds": ["x"]}, "customerIds.0"),
        ({}, "customerIds"),
        ({"customerIds": [0]}, "customerIds.0"),
    ):
        assert failed(call(client, shop.credentials, "POST", path, body), 400, "VALIDATION_ERROR").startswith(field)

    removed = ok(call(client, shop.credentials, "DELETE", f"{path}/{shop.robin.id}"))
    assert (removed["customerId"], removed["returned"], removed["campaign"]["remaining"], removed["campaign"]["members"]) == (
        shop.robin.id,
        Decimal("50.00"),
        Decimal("50.00"),
        1,
    )
    failed(call(client, shop.credentials, "DELETE", f"{path}/{shop.robin.id}"), 404, "NOT_FOUND")
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.remove_member")).one().actor.startswith("api:")


def test_the_customer_lists_its_campaign_balance_among_its_wallets(client, session, shop):
    ends = later(10)
    campaign = create(client, shop, endsAt=ends)
    before = ok(call(client, shop.credentials, "GET", f"/customers/{shop.robin.id}"))["wallets"]
    ok(call(client, shop.credentials, "POST", f"/campaigns/{campaign['id']}/members", {"customerIds": [shop.robin.id]}))

    wallets = ok(call(client, shop.credentials, "GET", f"/customers/{shop.robin.id}"))["wallets"]

    assert wallets[:-1] == before  # the general wallet, unchanged
    general, wellness = wallets
    assert set(general) == {"walletId", "currency", "walletBalance", "bonusBalance"}
    assert wellness == {
        "kind": "campaign",
        "campaignId": campaign["id"],
        "name": "Wellness",
        "balance": Decimal("50.00"),
        "currency": "USD",
        "spendableUntil": campaign["endsAt"],
    }
    ok(call(client, shop.credentials, "POST", f"/campaigns/{campaign['id']}/end"))
    assert ok(call(client, shop.credentials, "GET", f"/customers/{shop.robin.id}"))["wallets"] == before


# --- budget, changes, pause, resume, end ------------------------------------------------------


def test_the_budget_goes_up_and_down_once_per_key_never_below_zero(client, session, shop):
    campaign = create(client, shop, budget=100)
    path = f"/campaigns/{campaign['id']}/budget"

    up = ok(call(client, shop.credentials, "POST", path, {"amount": Decimal("150.50"), "idempotencyKey": "top-up-0001"}))
    assert (up["amount"], up["remaining"], up["currency"], up["campaign"]["budget"]) == (
        Decimal("150.50"),
        Decimal("250.50"),
        "USD",
        Decimal("250.50"),
    )
    replay = ok(call(client, shop.credentials, "POST", path, {"amount": Decimal("150.50"), "idempotencyKey": "top-up-0001"}))
    assert replay["transactionId"] == up["transactionId"] and partner_available(session, shop.partner) == 749_50
    assert failed(
        call(client, shop.credentials, "POST", path, {"amount": 10, "idempotencyKey": "top-up-0001"}), 400, "VALIDATION_ERROR"
    ).startswith("idempotencyKey")

    down = ok(call(client, shop.credentials, "POST", path, {"amount": Decimal("-200.50"), "idempotencyKey": "drain-0001"}))
    assert (down["amount"], down["remaining"], down["campaign"]["returned"]) == (
        Decimal("-200.50"),
        Decimal("50.00"),
        Decimal("200.50"),
    )
    assert partner_available(session, shop.partner) == 950_00

    assert "Only the unallocated budget" in failed(
        call(client, shop.credentials, "POST", path, {"amount": -51, "idempotencyKey": "drain-0002"}), 402, "BUSINESS_RULE_ERROR"
    )
    assert "Partner funds are too low" in failed(
        call(client, shop.credentials, "POST", path, {"amount": 951, "idempotencyKey": "top-up-0002"}), 402, "BUSINESS_RULE_ERROR"
    )
    for body, field in (
        ({"amount": 0, "idempotencyKey": "zero-0001"}, "amount"),
        ({"amount": "5", "idempotencyKey": "x-000001"}, "amount"),
        ({"amount": Decimal("0.001"), "idempotencyKey": "tiny-0001"}, "amount"),
        ({"amount": 5}, "idempotencyKey"),
    ):
        assert failed(call(client, shop.credentials, "POST", path, body), 400, "VALIDATION_ERROR").startswith(field)
    assert partner_available(session, shop.partner) == 950_00


def test_patch_changes_the_rules_from_now_on(client, session, shop):
    campaign = create(client, shop, budget=200, endsAt=later(5))
    path = f"/campaigns/{campaign['id']}"
    ok(call(client, shop.credentials, "POST", f"{path}/members", {"customerIds": [shop.robin.id]}))

    changed = ok(
        call(
            client,
            shop.credentials,
            "PATCH",
            path,
            {
                "name": "Wellness+",
                "brands": ["pizza-place"],
                "categories": [],
                "perCustomerAmount": 30,
                "priority": 7,
                "endsAt": later(60),
            },
        )
    )

    assert (changed["name"], changed["brands"], changed["categories"], changed["perCustomerAmount"], changed["priority"]) == (
        "Wellness+",
        ["pizza-place"],
        [],
        Decimal("30.00"),
        7,
    )
    assert changed["unused"] == Decimal("50.00")  # robin's allocation stays as it was
    sam = ok(call(client, shop.credentials, "POST", f"{path}/members", {"customerIds": [shop.sam.id]}))["results"][0]
    assert sam["allocated"] == Decimal("30.00")
    assert ok(call(client, shop.credentials, "PATCH", path, {"endsAt": None}))["endsAt"] is None
    assert ok(call(client, shop.credentials, "PATCH", path, {}))["name"] == "Wellness+"
    for body, field in (
        ({"perCustomerAmount": 0}, "perCustomerAmount"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, "endsAt"),
        ({"brands": ["nope"]}, "brands"),
        ({"priority": 5000}, "priority"),
        ({"name": ""}, "name"),
        ({"currency": "EUR"}, "currency"),
    ):
        assert failed(call(client, shop.credentials, "PATCH", path, body), 400, "VALIDATION_ERROR").startswith(field)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.update")).first()
    assert event.actor.startswith("api:")


def test_pause_resume_end_and_return_unused(client, session, shop):
    campaign = create(client, shop, budget=200)
    path = f"/campaigns/{campaign['id']}"
    ok(call(client, shop.credentials, "POST", f"{path}/members", {"customerIds": [shop.robin.id, shop.sam.id]}))

    assert ok(call(client, shop.credentials, "POST", f"{path}/pause"))["status"] == "paused"
    assert "paused" in failed(call(client, shop.credentials, "POST", f"{path}/pause"), 402, "BUSINESS_RULE_ERROR")
    assert ok(call(client, shop.credentials, "POST", f"{path}/resume"))["status"] == "active"
    failed(call(client, shop.credentials, "POST", f"{path}/resume"), 402, "BUSINESS_RULE_ERROR")

    ended = ok(call(client, shop.credentials, "POST", f"{path}/end"))
    assert (ended["returnedToBudget"], ended["returnedToPartner"]) == (Decimal("100.00"), Decimal("0.00"))
    assert (ended["campaign"]["status"], ended["campaign"]["remaining"], ended["campaign"]["unused"]) == (
        "ended",
        Decimal("200.00"),
        Decimal("0.00"),
    )
    assert ended["campaign"]["endedAt"] is not None
    for method, suffix, body in (
        ("POST", "/end", None),
        ("POST", "/resume", None),
        ("PATCH", "", {"name": "Again"}),
        ("POST", "/members", {"customerIds": [shop.robin.id]}),
        ("POST", "/budget", {"amount": 10, "idempotencyKey": "after-end-1"}),
    ):
        failed(call(client, shop.credentials, method, path + suffix, body), 402, "BUSINESS_RULE_ERROR")

    returned = ok(call(client, shop.credentials, "POST", f"{path}/return-unused"))
    assert (returned["returned"], returned["campaign"]["remaining"], returned["campaign"]["returned"]) == (
        Decimal("200.00"),
        Decimal("0.00"),
        Decimal("200.00"),
    )
    assert partner_available(session, shop.partner) == 1000_00
    assert ok(call(client, shop.credentials, "POST", f"{path}/return-unused"))["returned"] == Decimal("0.00")
    assert ok(call(client, shop.credentials, "GET", "/campaigns?status=ended"))["total"] == 1


# --- webhooks --------------------------------------------------------------------------------


def test_budget_low_is_sent_once_per_crossing_and_ended_when_the_campaign_ends(client, session, shop, make_consumer, receiver):
    hooked = ok(
        call(
            client,
            shop.credentials,
            "POST",
            "/webhooks",
            {"url": receiver.url("/campaigns"), "events": ["campaign.budget_low", "campaign.ended"]},
        )
    )
    orders_only = ok(call(client, shop.credentials, "POST", "/webhooks", {"url": receiver.url("/orders")}))
    assert hooked["events"] == ["campaign.ended", "campaign.budget_low"] and orders_only["events"] == [
        "order.completed",
        "order.failed",
    ]
    people = [shop.robin.id, shop.sam.id] + [make_consumer(shop.partner, funds="0").id for _ in range(3)]
    campaign = create(client, shop, budget=100, perCustomerAmount=40)
    path = f"/campaigns/{campaign['id']}"

    def events() -> list[tuple[str, Decimal]]:
        return [
            (
                json.loads(r["body"], parse_float=Decimal)["type"],
                json.loads(r["body"], parse_float=Decimal)["data"]["campaign"]["remaining"],
            )
            for r in receiver.requests
        ]

    def add(person):
        ok(call(client, shop.credentials, "POST", f"{path}/members", {"customerIds": [person]}))

    def budget(amount, key):
        ok(call(client, shop.credentials, "POST", f"{path}/budget", {"amount": amount, "idempotencyKey": key}))

    add(people[0])  # 100 -> 60: the next allocation is still paid
    assert events() == []
    add(people[1])  # 60 -> 20: low
    assert events() == [("campaign.budget_low", Decimal("20.00"))]
    add(people[2])  # insufficient_budget: still low, nothing moved, no second event
    budget(10, "top-up-0001")  # 20 -> 30: still low
    assert len(events()) == 1
    budget(100, "top-up-0002")  # 30 -> 130: enough again
    add(people[2])  # 130 -> 90
    add(people[3])  # 90 -> 50
    assert len(events()) == 1
    add(people[4])  # 50 -> 10: a second crossing
    assert events()[1:] == [("campaign.budget_low", Decimal("10.00"))]
    budget(100, "top-up-0003")  # 10 -> 110
    budget(-80, "drain-0001")  # 110 -> 30: a budget decrease crosses too
    assert events()[2:] == [("campaign.budget_low", Decimal("30.00"))]

    ok(call(client, shop.credentials, "POST", f"{path}/end"))

    assert [e[0] for e in events()] == ["campaign.budget_low"] * 3 + ["campaign.ended"]
    ended = json.loads(receiver.requests[-1]["body"], parse_float=Decimal)
    assert ended["data"]["campaign"]["id"] == campaign["id"] and ended["data"]["campaign"]["status"] == "ended"
    assert ended["data"]["campaign"]["unused"] == Decimal("0.00")
    assert receiver.requests[-1]["headers"]["x-event-type"] == "campaign.ended"
    assert {r["path"] for r in receiver.requests} == {"/campaigns"}  # the order webhook heard nothing
    session.rollback()
    stored = session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hooked["id"])).all()
    assert [(d.event_type, d.status, d.order_id) for d in stored] == [("campaign.budget_low", "delivered", None)] * 3 + [
        ("campaign.ended", "delivered", None)
    ]
    listed = ok(call(client, shop.credentials, "GET", f"/webhooks/{hooked['id']}/deliveries"))
    assert [d["event"] for d in listed["items"]][0] == "campaign.ended" and listed["items"][0]["orderId"] is None


# --- the CLI ---------------------------------------------------------------------------------


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_create_api_key_prints_working_credentials_once(app, client, session, shop):
    result = run(app, "create-api-key", "--partner", shop.partner.slug, "--name", "Payroll sync")

    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert set(data) == {"clientId", "apiKey", "hmacSecret"} and data["clientId"] == shop.partner.client_id
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(data["apiKey"]))).one()
    assert (key.partner_id, key.label, key.require_signature_v2) == (shop.partner.id, "Payroll sync", False)
    assert data["hmacSecret"] not in key.hmac_secret_encrypted
    credentials = SimpleNamespace(client_id=data["clientId"], api_key=data["apiKey"], hmac_secret=data["hmacSecret"])
    assert ok(call(client, credentials, "GET", "/balance"))["balances"][0]["currency"] == "USD"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "api_key.create", AuditEvent.actor == "cli")).one()

    strict = json.loads(
        run(app, "create-api-key", "--partner", shop.partner.slug, "--require-v2").output.strip().splitlines()[-1]
    )
    assert session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(strict["apiKey"]))).one().require_signature_v2 is True
    strict_credentials = SimpleNamespace(client_id=strict["clientId"], api_key=strict["apiKey"], hmac_secret=strict["hmacSecret"])
    assert call(client, strict_credentials, "GET", "/balance").status_code == 403
    ok(call(client, strict_credentials, "GET", "/balance", version=2))

    missing = run(app, "create-api-key", "--partner", "no-such-store")
    assert missing.exit_code == 1 and "no store" in missing.output


def test_create_partner_offers_the_whole_catalog_unless_told_none(app, session, make_brand):
    make_brand("Calm Spa", category="Health & Beauty")
    make_brand("Pizza Place")

    everything = json.loads(run(app, "create-partner", "--slug", "allbrands", "--name", "All").output.strip().splitlines()[-1])
    nothing = json.loads(
        run(app, "create-partner", "--slug", "nobrands", "--name", "None", "--brands", "none").output.strip().splitlines()[-1]
    )

    session.rollback()
    offered = session.exec(select(PartnerBrand).where(PartnerBrand.partner_id == everything["partnerId"])).all()
    assert len(offered) == 2 and all(pb.enabled for pb in offered)
    assert session.exec(select(PartnerBrand).where(PartnerBrand.partner_id == nothing["partnerId"])).all() == []
    assert run(app, "create-partner", "--slug", "bad", "--name", "B", "--brands", "some").exit_code == 2


# --- seed-demo -------------------------------------------------------------------------------


def test_seed_demo_creates_one_active_campaign_with_the_demo_consumer_and_is_safe_to_run_again(app, session, mailbox):
    first = run(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "campaign: Wellness (active)" in first.output

    second = run(app, "seed-demo")
    assert second.exit_code == 0, second.output

    session.rollback()
    [campaign] = session.exec(select(Campaign)).all()
    assert (campaign.name, campaign.status, campaign.per_consumer_amount, campaign.category_list) == (
        "Wellness",
        "active",
        50_00,
        ["Health & Beauty"],
    )
    assert session.exec(select(Brand).where(Brand.category == "Health & Beauty")).first() is not None
    [member] = session.exec(select(CampaignMember)).all()
    alex = session.exec(select(Consumer).where(Consumer.email == "alex@example.com")).one()
    assert member.consumer_id == alex.id
    from app.services import campaigns

    summary = campaigns.campaign_summary(session, campaign)
    assert (summary.budget.amount, summary.remaining.amount, summary.unused.amount, summary.members) == (500_00, 450_00, 50_00, 1)
    acme = partners.partner_by_slug(session, "acme")
    assert partners.partner_funds(session, acme, "USD").amount == 10_000_00 - 250_00 - 500_00
    [balance] = campaigns.consumer_campaign_balances(session, consumer=alex)
    assert (balance.name, balance.balance.amount, balance.spendable_now) == ("Wellness", 50_00, True)
