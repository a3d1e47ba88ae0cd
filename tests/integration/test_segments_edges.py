"""Segments at the edges (issue #17): a bonus for a tag in the store (catalog, brand page, quote, review, checkout),
in the API's orders and catalog; tags through the API, the portal and the bulk upload; a campaign for a tag
through the API and the portal."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from sqlmodel import func, select

from app.domain.ledger import AccountKind, TransactionType
from app.domain.money import Money
from app.models import Account, AuditEvent, BulkUpload, BulkUploadRow, Campaign, CampaignMember, Order, PartnerBrand, Transaction
from app.services import campaigns, catalog, segments
from tests.conftest import reload, temporary_password_in
from tests.integration.api_client import call, failed, ok
from tests.integration.conftest import StoreBrowser, page, redirect_path

HTMX = {"HX-Request": "true"}


def sign_in(app, partner, make_consumer, mailbox, *, tags=(), session=None):
    """A consumer of `partner` with `tags`, signed in (first login done) in their own browser."""
    consumer = make_consumer(partner)
    if tags:
        segments.set_tags(session, consumer=consumer, tags=tags)
    browser = StoreBrowser(app.test_client(), partner)
    browser.login(consumer.email, temporary_password_in(mailbox.last_to(consumer.email)))
    browser.get("/welcome/password")
    browser.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"})
    browser.get("/terms")
    browser.post("/terms", {"accept": "yes", "version": "1"})
    assert browser.get("/").status_code == 200
    return consumer, browser


def tiles(response) -> dict[str, str]:
    """Each tile's brand name -> its badges' text."""
    html = page(response)
    found = {}
    for tile in re.findall(r"<li[^>]*>.*?</li>", html, flags=re.S):
        name = re.search(r'<span class="tile-name">([^<]+)</span>', tile)
        if name:
            found[name.group(1)] = " ".join(re.findall(r'<span class="badge">([^<]+)</span>', tile))
    return found


@pytest.fixture
def shop(session, make_partner, make_brand):
    """A partner whose Spa card has a +10 % value bonus for tag `vip` only, and whose Pizza card one for everyone."""
    partner = make_partner(funds="1000")
    spa = make_brand("Calm Spa", category="Health & Beauty", denominations="2500,5000")
    pizza = make_brand("Pizza Place", denominations="2500")
    catalog.make_available(
        session, partner=partner, brand=spa, bonus_type="value", bonus_percent=Decimal("10"), bonus_segment="vip"
    )
    catalog.make_available(session, partner=partner, brand=pizza, bonus_type="cash", bonus_percent=Decimal("5"))
    return partner, spa, pizza


# --- a bonus for a tag in the store ---------------------------------------------------------------


def test_the_store_shows_a_targeted_bonus_only_to_consumers_with_its_tag_even_from_the_cache(
    app, session, shop, make_consumer, mailbox
):
    partner, spa, _pizza = shop
    outsider, outsider_browser = sign_in(app, partner, make_consumer, mailbox)
    insider, insider_browser = sign_in(app, partner, make_consumer, mailbox, tags=["vip"], session=session)

    # The outsider first (their catalog is cached), then the insider, then the outsider again (from the cache).
    assert tiles(outsider_browser.get("/")) == {"Calm Spa": "", "Pizza Place": "5% back"}
    assert tiles(insider_browser.get("/")) == {"Calm Spa": "+10% value", "Pizza Place": "5% back"}
    assert tiles(outsider_browser.get("/")) == {"Calm Spa": "", "Pizza Place": "5% back"}
    assert tiles(insider_browser.get("/", headers=HTMX)) == {"Calm Spa": "+10% value", "Pizza Place": "5% back"}
    # Sorted by the biggest bonus, the outsider's Spa card has none: it doesn't come first.
    names = lambda response: re.findall(r'<span class="tile-name">([^<]+)</span>', page(response))  # noqa: E731
    assert names(outsider_browser.get("/?sort=bonus")) == ["Pizza Place", "Calm Spa"]
    assert names(insider_browser.get("/?sort=bonus")) == ["Calm Spa", "Pizza Place"]

    # The brand page and its quote.
    assert "bonus-statement" not in page(outsider_browser.get(f"/brands/{spa.slug}"))
    assert "bonus-statement" in page(insider_browser.get(f"/brands/{spa.slug}"))
    assert "$27.50" not in page(outsider_browser.get(f"/brands/{spa.slug}/quote?amount=25"))
    assert "$27.50" in page(insider_browser.get(f"/brands/{spa.slug}/quote?amount=25"))

    # The tag taken away: the insider sees the card without its bonus at the next request.
    segments.set_tags(session, consumer=insider, tags=[])
    assert tiles(insider_browser.get("/")) == {"Calm Spa": "", "Pizza Place": "5% back"}


def checkout(browser, slug: str, key: str, *, amount: str = "25"):
    browser.get(f"/brands/{slug}/checkout?amount={amount}")
    fields = {"amount": amount, "send_to": "me", "sender_name": "Me", "idempotency_key": key}
    review = browser.post(f"/brands/{slug}/checkout/review", fields)
    assert review.status_code == 200, page(review)
    placed = browser.post(f"/brands/{slug}/orders", fields)
    assert placed.status_code == 303, page(placed)
    return page(review), redirect_path(placed).rsplit("/", 1)[-1]


def test_the_review_and_the_checkout_apply_a_targeted_bonus_only_inside_its_segment(app, session, shop, make_consumer, mailbox):
    partner, spa, _pizza = shop
    _outsider, outsider_browser = sign_in(app, partner, make_consumer, mailbox)
    _insider, insider_browser = sign_in(app, partner, make_consumer, mailbox, tags=["vip"], session=session)

    outsider_review, outsider_order = checkout(outsider_browser, spa.slug, "checkout-outsider-1")
    insider_review, insider_order = checkout(insider_browser, spa.slug, "checkout-insider-1")
    assert "$27.50" not in outsider_review and "$27.50" in insider_review
    session.rollback()
    card_value = lambda public_id: session.exec(select(Order.card_value).where(Order.public_id == public_id)).one()  # noqa: E731
    assert card_value(outsider_order) == 25_00
    assert card_value(insider_order) == 27_50


def test_a_review_made_with_the_bonus_is_refused_once_the_tag_is_gone(app, session, shop, make_consumer, mailbox):
    partner, spa, _pizza = shop
    insider, browser = sign_in(app, partner, make_consumer, mailbox, tags=["vip"], session=session)
    fields = {"amount": "25", "send_to": "me", "sender_name": "Me", "idempotency_key": "checkout-lost-tag-1"}
    browser.get(f"/brands/{spa.slug}/checkout?amount=25")
    review = page(browser.post(f"/brands/{spa.slug}/checkout/review", fields))
    reviewed = dict(re.findall(r'name="(reviewed_[a-z_]+)" value="([0-9]+)"', review))
    assert reviewed["reviewed_card_value"] == "2750"
    segments.set_tags(session, consumer=insider, tags=[])
    refused = browser.post(f"/brands/{spa.slug}/orders", fields | reviewed)
    assert refused.status_code == 422  # the quote changed: nothing charged
    session.rollback()
    assert session.exec(select(func.count()).select_from(Order).where(Order.consumer_id == insider.id)).one() == 0


# --- the API: catalog, orders, tags, campaigns ----------------------------------------------------


@pytest.fixture
def api_shop(session, partner_with_key, make_brand):
    partner, credentials = partner_with_key()
    spa = make_brand("Calm Spa", category="Health & Beauty", denominations="2500,5000")
    catalog.make_available(
        session, partner=partner, brand=spa, bonus_type="value", bonus_percent=Decimal("10"), bonus_segment="vip"
    )
    return partner, credentials, spa


def test_the_api_catalog_names_the_segment_and_api_orders_apply_it(client, session, api_shop, make_consumer):
    partner, credentials, spa = api_shop
    listed = ok(call(client, credentials, "GET", "/catalog"))["items"]
    assert listed[0]["bonus"]["segment"] == "vip" and listed[0]["bonus"]["activeNow"] is True

    outsider, insider = make_consumer(partner), make_consumer(partner)
    assert ok(call(client, credentials, "PUT", f"/customers/{insider.id}/tags", {"tags": ["VIP"]}))["tags"] == ["vip"]
    for consumer, reference in ((outsider, "PO-outsider-1"), (insider, "PO-insider-1")):
        body = {
            "customerId": consumer.id,
            "brand": spa.slug,
            "amount": Decimal("25.00"),
            "currency": "usd",
            "externalRefId": reference,
        }
        ok(call(client, credentials, "POST", "/orders", body))
    session.rollback()
    card_value = lambda ref: session.exec(select(Order.card_value).where(Order.external_ref == ref)).one()  # noqa: E731
    assert card_value("PO-outsider-1") == 25_00
    assert card_value("PO-insider-1") == 27_50


def test_api_tags_replace_read_back_join_a_campaign_and_refuse_bad_ones(client, session, partner_with_key, make_consumer):
    partner, credentials = partner_with_key()
    customer = make_consumer(partner)
    created = ok(
        call(
            client,
            credentials,
            "POST",
            "/campaigns",
            {
                "name": "VIP perks",
                "currency": "USD",
                "budget": 100,
                "perCustomerAmount": 25,
                "eligibleTag": "vip",
                "idempotencyKey": "vip-perks-2026",
            },
        )
    )
    assert (created["eligibleTag"], created["eligibleCreatedAfter"], created["members"]) == ("vip", None, 0)

    data = ok(call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {"tags": ["new-york", "vip"]}))
    assert data["tags"] == ["new-york", "vip"]
    assert [w["name"] for w in data["wallets"] if w.get("kind") == "campaign"] == ["VIP perks"]
    again = ok(call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {"tags": ["vip", "new-york"]}))
    assert again["tags"] == ["new-york", "vip"]
    assert ok(call(client, credentials, "GET", f"/customers/{customer.id}"))["tags"] == ["new-york", "vip"]
    assert ok(call(client, credentials, "GET", f"/campaigns/{created['id']}"))["allocated"] == Decimal("25.00")

    message = failed(
        call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {"tags": ["two words"]}), 400, "VALIDATION_ERROR"
    )
    assert message.startswith("tags") and "'two words'" in message
    failed(call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {"tags": "vip"}), 400, "VALIDATION_ERROR")
    failed(call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {}), 400, "VALIDATION_ERROR")
    failed(call(client, credentials, "PUT", "/customers/999999/tags", {"tags": []}), 404, "NOT_FOUND")

    data = ok(call(client, credentials, "PUT", f"/customers/{customer.id}/tags", {"tags": []}))
    assert data["tags"] == []
    assert [w["balance"] for w in data["wallets"] if w.get("kind") == "campaign"] == [Decimal("25.00")]  # kept


def test_the_campaign_api_round_trips_eligibility(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    created = ok(
        call(
            client,
            credentials,
            "POST",
            "/campaigns",
            {
                "name": "New hires",
                "currency": "USD",
                "budget": 100,
                "perCustomerAmount": 10,
                "eligibleTag": "Hires",
                "eligibleCreatedAfter": "2026-01-01T00:00:00Z",
                "idempotencyKey": "new-hires-2026",
            },
        )
    )
    assert (created["eligibleTag"], created["eligibleCreatedAfter"]) == ("hires", "2026-01-01T00:00:00Z")
    path = f"/campaigns/{created['id']}"
    changed = ok(call(client, credentials, "PATCH", path, {"eligibleCreatedAfter": None}))
    assert (changed["eligibleTag"], changed["eligibleCreatedAfter"]) == ("hires", None)
    unchanged = ok(call(client, credentials, "PATCH", path, {"priority": 2}))
    assert unchanged["eligibleTag"] == "hires"
    cleared = ok(call(client, credentials, "PATCH", path, {"eligibleTag": None}))
    assert cleared["eligibleTag"] is None
    message = failed(call(client, credentials, "PATCH", path, {"eligibleTag": "no spaces"}), 400, "VALIDATION_ERROR")
    assert message.startswith("eligibleTag")
    message = failed(
        call(client, credentials, "PATCH", path, {"eligibleCreatedAfter": "2026-01-01T00:00:00Z"}), 400, "VALIDATION_ERROR"
    )
    assert message.startswith("eligibleCreatedAfter")


# --- the portal ---------------------------------------------------------------------------------


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="1000")


@pytest.fixture
def operator(partner, make_team_member, portal_as):
    return portal_as(make_team_member(partner, "operator"))


@pytest.fixture
def admin(partner, make_team_member, portal_as):
    return portal_as(make_team_member(partner, "admin"))


def test_an_operator_tags_a_consumer_on_their_page_and_they_join_a_campaign_for_the_tag(
    session, partner, operator, make_consumer
):
    consumer = make_consumer(partner)
    campaign = campaigns.create_campaign(
        session,
        partner=partner,
        name="VIP perks",
        currency="USD",
        budget=Money(100_00, "USD"),
        per_consumer_amount=Money(20_00, "USD"),
        idempotency_key="portal-vip-perks",
        eligible_tag="vip",
    ).campaign
    operator.get(f"/consumers/{consumer.id}")
    added = operator.post(f"/consumers/{consumer.id}/tags", {"tags": "VIP; new-york"})
    assert added.status_code == 303
    shown = page(operator.get(f"/consumers/{consumer.id}"))
    assert "Tagged vip, new-york." in shown and "joined 1 campaign" in shown
    assert segments.tags_of(session, consumer) == ["new-york", "vip"]
    session.rollback()
    assert session.exec(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)).one().consumer_id == consumer.id

    refused = operator.post(f"/consumers/{consumer.id}/tags", {"tags": "no!good"})
    assert refused.status_code == 422 and "'no!good' is not one" in page(refused)

    removed = operator.post(f"/consumers/{consumer.id}/tags/vip/remove")
    assert removed.status_code == 303
    assert segments.tags_of(session, consumer) == ["new-york"]
    session.rollback()
    member = session.exec(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)).one()
    assert member.ineligible_at is not None
    events = session.exec(select(AuditEvent.summary).where(AuditEvent.action == "consumer.tags").order_by(AuditEvent.id)).all()
    assert len(events) == 2 and "untagged vip" in events[1]


def test_a_viewer_sees_tags_but_cannot_change_them(session, partner, make_team_member, portal_as, make_consumer):
    consumer = make_consumer(partner)
    segments.set_tags(session, consumer=consumer, tags=["vip"])
    viewer = portal_as(make_team_member(partner, "viewer"))
    shown = page(viewer.get(f"/consumers/{consumer.id}"))
    assert ">vip<" in shown and f"consumers/{consumer.id}/tags" not in shown
    assert viewer.post(f"/consumers/{consumer.id}/tags", {"tags": "other"}).status_code == 403
    assert segments.tags_of(session, consumer) == ["vip"]


def test_the_portal_campaign_form_sets_everyone_with_a_tag(session, partner, admin, make_consumer):
    tagged = make_consumer(partner)
    segments.set_tags(session, consumer=tagged, tags=["vip"])
    admin.get("/campaigns")
    response = admin.post(
        "/campaigns",
        {
            "name": "VIP perks",
            "currency": "USD",
            "budget": "100",
            "per_consumer_amount": "20",
            "priority": "0",
            "eligibility": "tag",
            "eligible_tag": "vip",
            "idempotency_key": admin.token[:20] + "-portal-create",
        },
    )
    assert response.status_code == 303, page(response)
    session.rollback()
    campaign = session.exec(select(Campaign).where(Campaign.partner_id == partner.id)).one()
    assert campaign.eligible_tag == "vip"
    shown = page(admin.get(f"/campaigns/{campaign.id}"))
    assert "everyone tagged" in shown and tagged.email in shown

    blank = admin.post(
        f"/campaigns/{campaign.id}/edit",
        {"name": "VIP perks", "per_consumer_amount": "20", "priority": "0", "eligibility": "tag", "eligible_tag": ""},
    )
    assert blank.status_code == 422 and "Enter the tag" in page(blank)
    back = admin.post(
        f"/campaigns/{campaign.id}/edit",
        {"name": "VIP perks", "per_consumer_amount": "20", "priority": "0", "eligibility": "chosen"},
    )
    assert back.status_code == 303
    assert reload(session, Campaign, campaign.id).eligible_tag is None


def test_the_portal_brand_form_targets_a_bonus_at_a_tag(session, partner, admin, make_brand):
    brand = make_brand("Calm Spa", category="Health & Beauty")
    catalog.make_available(session, partner=partner, brand=brand)
    admin.get(f"/brands/{brand.id}")
    form = {"enabled": "yes", "discount_percent": "0", "fee": "0", "bonus_type": "value", "bonus_percent": "10"}
    assert admin.post(f"/brands/{brand.id}", form | {"bonus_segment": "VIP"}).status_code == 303
    session.rollback()
    settings = session.exec(select(PartnerBrand).where(PartnerBrand.brand_id == brand.id)).one()
    assert settings.bonus_segment == "vip"
    assert "tag vip only" in page(admin.get("/brands"))
    refused = admin.post(f"/brands/{brand.id}", form | {"bonus_segment": "two words"})
    assert refused.status_code == 422 and "is not one" in page(refused)
    assert admin.post(f"/brands/{brand.id}", form | {"bonus_segment": ""}).status_code == 303
    assert reload(session, PartnerBrand, settings.id).bonus_segment == ""


# --- the bulk upload's tags column ---------------------------------------------------------------


def test_the_bulk_upload_tags_new_and_existing_consumers_and_they_join_once(session, partner, operator, make_consumer):
    existing = make_consumer(partner, email="kept@example.com")
    campaign = campaigns.create_campaign(
        session,
        partner=partner,
        name="VIP perks",
        currency="USD",
        budget=Money(100_00, "USD"),
        per_consumer_amount=Money(20_00, "USD"),
        idempotency_key="bulk-vip-perks",
        eligible_tag="vip",
    ).campaign
    content = (
        "action,email,full_name,currency,initial_funds,tags\n"
        "create,ann@example.com,Ann Able,USD,10,vip;new-york\n"
        "create,kept@example.com,Kept,USD,5,VIP\n"  # has the wallet: only the tag
        "create,bo@example.com,Bo Bell,USD,0,\n"
        "tag,nobody@example.com,,,,vip\n"
        "create,bad@example.com,Bad,USD,1,no!good\n"
    )
    operator.get("/bulk-uploads")
    assert operator.post("/bulk-uploads", {"file": (io.BytesIO(content.encode()), "people.csv")}).status_code == 303
    session.rollback()
    upload = session.exec(select(BulkUpload).where(BulkUpload.partner_id == partner.id)).one()
    rows = {r.row_number: r for r in session.exec(select(BulkUploadRow).where(BulkUploadRow.upload_id == upload.id)).all()}
    assert [rows[n].outcome for n in range(1, 6)] == ["create", "tag", "create", "error", "error"]
    assert (rows[1].tags, rows[2].tags, rows[3].tags) == ("vip;new-york", "vip", "")
    assert "no consumer with this email to tag" in rows[4].message and "'no!good' is not one" in rows[5].message
    assert (upload.to_create, upload.to_tag, upload.errors) == (2, 1, 2)
    assert "To tag" in page(operator.get(f"/bulk-uploads/{upload.public_id}"))

    assert operator.post(f"/bulk-uploads/{upload.public_id}/commit").status_code == 303
    session.rollback()
    members = session.exec(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)).all()
    by_consumer = {m.consumer_id: m for m in members}
    assert existing.id in by_consumer and len(by_consumer) == 2
    for consumer_id in by_consumer:
        credits = session.exec(
            select(func.count())
            .select_from(Transaction)
            .where(
                Transaction.campaign_id == campaign.id,
                Transaction.consumer_id == consumer_id,
                Transaction.type == TransactionType.CREDIT.value,
            )
        ).one()
        assert credits == 1
    assert segments.tags_of(session, existing) == ["vip"]
    balances = session.exec(
        select(func.sum(Account.balance)).where(Account.campaign_id == campaign.id, Account.kind == AccountKind.CAMPAIGN.value)
    ).one()
    assert balances == 40_00
    assert reload(session, BulkUpload, upload.id).status == "committed"

    # The same file again: everyone has their tags, nobody gets a second allocation.
    operator.get("/bulk-uploads")
    operator.post("/bulk-uploads", {"file": (io.BytesIO(content.encode()), "people-again.csv")})
    session.rollback()
    again = session.exec(select(BulkUpload).where(BulkUpload.partner_id == partner.id).order_by(BulkUpload.id.desc())).first()
    assert (again.to_create, again.to_tag) == (0, 0)
