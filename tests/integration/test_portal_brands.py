"""The portal's brands: the global catalog with this partner's settings, filters, offering a brand
or not in place, editing price and bonus with their rules; the store follows at once."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlmodel import func, select

from app.db import write_transaction
from app.models import AuditEvent, Brand, PartnerBrand
from app.services import catalog
from tests.integration.conftest import page, reload

HTMX = {"HX-Request": "true"}
SETTINGS = {
    "enabled": "yes",
    "discount_percent": "0",
    "fee": "0",
    "bonus_type": "none",
    "bonus_percent": "0",
    "promo_starts_at": "",
    "promo_ends_at": "",
}


@pytest.fixture
def admin(store, make_team_member, portal_as):
    """An admin of the store's partner, signed in to the portal."""
    return portal_as(make_team_member(store.partner, "admin"))


def settings_of(session, partner, brand) -> PartnerBrand | None:
    session.rollback()
    return session.exec(
        select(PartnerBrand).where(PartnerBrand.partner_id == partner.id, PartnerBrand.brand_id == brand.id)
    ).first()


def audit_count(session) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def tile_names(response) -> list[str]:
    return re.findall(r'<span class="tile-name">([^<]+)</span>', page(response))


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


# --- the list -----------------------------------------------------------------------------


def test_viewers_see_every_catalog_brand_with_this_partners_settings_and_no_change_buttons(
    session, store, make_partner, make_brand, make_team_member, portal_as
):
    offered = make_brand("Aurora Books", category="Books")
    make_brand("Bramble Bistro", category="Food & Dining")  # never set up: not offered
    other_partners = make_brand("Cedar Cinema", category="Entertainment")
    retired = make_brand("Retired Records", category="Entertainment")
    with write_transaction(session):
        retired.is_active = False
        session.add(retired)
    catalog.make_available(session, partner=store.partner, brand=offered, bonus_type="value", bonus_percent=Decimal("12.5"))
    catalog.make_available(session, partner=make_partner(), brand=other_partners, bonus_type="cash", bonus_percent=Decimal(40))
    viewer = portal_as(make_team_member(store.partner, "viewer"))

    response = viewer.get("/brands")
    text = text_of(response)
    assert response.status_code == 200
    assert "Aurora Books Books face value · +12.5 % value offered" in text
    assert "Bramble Bistro Food & Dining face value not offered" in text
    assert "Cedar Cinema Entertainment face value not offered" in text  # another partner's bonus is not ours
    assert "40 % back" not in text and "Retired Records" not in text
    assert "Stop offering" not in text and "Offer Bramble" not in text and "/enable" not in page(response)
    detail = viewer.get(f"/brands/{offered.id}")
    assert detail.status_code == 200 and "+12.5 % value" in text_of(detail)
    assert 'name="discount_percent"' not in page(detail) and "Only admins can change these" in page(detail)
    assert viewer.post(f"/brands/{offered.id}/disable").status_code == 403
    assert viewer.post(f"/brands/{offered.id}", SETTINGS).status_code == 403
    assert settings_of(session, store.partner, offered).enabled


def test_the_filters_search_by_name_category_and_offered_and_answer_htmx_with_the_rows(session, store, admin, make_brand):
    for number in range(27):
        brand = make_brand(f"Gadget {number:02d}", category="Electronics")
        if number % 2:
            catalog.make_available(session, partner=store.partner, brand=brand)
    make_brand("Garden Gnome", category="Home & Garden")

    everything = admin.get("/brands")
    assert "28 brands" in text_of(everything) and "Page 1 of 2" in text_of(everything)
    assert "Home &amp; Garden" in everything.get_data(as_text=True)  # the category filter's options
    by_category = admin.get("/brands?category=Home+%26+Garden", headers=HTMX)
    assert "HX-Request" in by_category.headers["Vary"]
    assert page(by_category).lstrip().startswith('<div id="brand-rows"') and "<html" not in page(by_category)
    assert "1 brand" in text_of(by_category) and "Garden Gnome" in text_of(by_category)
    offered = text_of(admin.get("/brands?enabled=yes"))
    assert "13 brands" in offered and "Gadget 01" in offered and "Gadget 02" not in offered
    not_offered = text_of(admin.get("/brands?enabled=no&q=gadget"))
    assert "14 brands" in not_offered and "Gadget 02" in not_offered and "Garden Gnome" not in not_offered
    second = admin.get("/brands?q=gadget&page=2", headers=HTMX)
    assert "Page 2 of 2" in text_of(second) and "Gadget 26" in text_of(second) and "Gadget 00" not in text_of(second)


# --- offering a brand or not ----------------------------------------------------------------


def test_stopping_a_brand_removes_it_from_the_store_at_once_and_offering_it_brings_it_back(
    session, store, signed_in, admin, make_brand
):
    brand = make_brand("Delta Diner")
    catalog.make_available(session, partner=store.partner, brand=brand)
    assert "Delta Diner" in tile_names(store.get("/"))
    assert store.get(f"/brands/{brand.slug}").status_code == 200

    row = admin.post(f"/brands/{brand.id}/disable", headers=HTMX)
    assert row.status_code == 200
    assert page(row).lstrip().startswith(f'<tr id="brand-{brand.id}"') and "not offered" in page(row) and ">Offer<" in page(row)
    assert not settings_of(session, store.partner, brand).enabled
    assert "Delta Diner" not in tile_names(store.get("/"))
    assert store.get(f"/brands/{brand.slug}").status_code == 404

    assert admin.post(f"/brands/{brand.id}/disable", headers=HTMX).status_code == 200  # already off: nothing recorded
    assert admin.post(f"/brands/{brand.id}/enable").status_code == 303  # without htmx: back to the list
    assert "Delta Diner" in tile_names(store.get("/"))
    session.rollback()
    events = session.exec(select(AuditEvent.action).where(AuditEvent.subject_type == "brand").order_by(AuditEvent.id)).all()
    assert events == ["brand.disable", "brand.enable"]


def test_offering_a_brand_never_set_up_makes_it_available_with_no_bonus(session, store, signed_in, admin, make_brand):
    brand = make_brand("Echo Espresso")
    assert settings_of(session, store.partner, brand) is None
    assert "Echo Espresso" not in tile_names(store.get("/"))
    assert admin.post(f"/brands/{brand.id}/enable", headers=HTMX).status_code == 200
    settings = settings_of(session, store.partner, brand)
    assert settings.enabled and settings.bonus_type == "none" and settings.discount_percent == 0
    assert "Echo Espresso" in tile_names(store.get("/"))


# --- editing price and bonus ----------------------------------------------------------------


def test_an_admin_changes_the_bonus_and_the_store_shows_it_at_once(session, store, signed_in, admin, make_brand):
    brand = make_brand("Fjord Fish", denominations="5000")
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="value", bonus_percent=Decimal(10))
    assert "+10% value" in text_of(store.get(f"/brands/{brand.slug}"))

    form = admin.get(f"/brands/{brand.id}")
    assert 'name="bonus_percent" type="text" inputmode="decimal" value="10"' in page(form)
    saved = admin.post(f"/brands/{brand.id}", SETTINGS | {"bonus_type": "cash", "bonus_percent": "7.5"})
    assert saved.status_code == 303
    brand_page = text_of(store.get(f"/brands/{brand.slug}"))
    assert "7.5% back" in brand_page and "+10% value" not in brand_page
    assert "7.5% back" in text_of(store.get("/"))

    session.rollback()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "brand.update")).one()
    assert "bonus_type value → cash" in event.summary and "bonus_percent 10 → 7.5" in event.summary
    assert event.team_member_id == admin.member.id


def test_a_discount_or_a_fee_prices_the_card_in_the_store(session, store, signed_in, admin, make_brand):
    brand = make_brand("Grove Grocer", denominations="5000")
    catalog.make_available(session, partner=store.partner, brand=brand)
    assert admin.post(f"/brands/{brand.id}", SETTINGS | {"discount_percent": "3.33"}).status_code == 303
    settings = settings_of(session, store.partner, brand)
    assert settings.discount_percent == Decimal("3.33") and settings.fee == 0
    # 3.33 % of $50.00 is $1.665: the discount rounds down to $1.66, so the card costs $48.34.
    assert "$48.34" in text_of(store.get(f"/brands/{brand.slug}/quote?amount=50"))

    assert admin.post(f"/brands/{brand.id}", SETTINGS | {"fee": "1.50"}).status_code == 303
    settings = settings_of(session, store.partner, brand)
    assert settings.discount_percent == 0 and settings.fee == 150
    assert "$51.50" in text_of(store.get(f"/brands/{brand.slug}/quote?amount=50"))
    assert "$1.50 fee" in text_of(admin.get("/brands"))


def test_a_bonus_outside_its_promotion_is_not_shown_and_no_bonus_clears_the_window(session, store, signed_in, admin, make_brand):
    brand = make_brand("Harbor Hotel", denominations="5000")
    catalog.make_available(session, partner=store.partner, brand=brand)
    window = {
        "bonus_type": "value",
        "bonus_percent": "20",
        "promo_starts_at": "2099-01-01T00:00",
        "promo_ends_at": "2099-02-01T00:00",
    }
    assert admin.post(f"/brands/{brand.id}", SETTINGS | window).status_code == 303
    settings = settings_of(session, store.partner, brand)
    assert settings.promo_starts_at.year == 2099 and settings.promo_ends_at.month == 2
    assert "+20% value" not in text_of(store.get(f"/brands/{brand.slug}"))
    assert "from 2099-01-01 00:00 until 2099-02-01 00:00 UTC" in text_of(admin.get("/brands"))
    assert 'value="2099-01-01T00:00"' in page(admin.get(f"/brands/{brand.id}"))

    assert admin.post(f"/brands/{brand.id}", SETTINGS | window | {"bonus_type": "none"}).status_code == 303
    settings = settings_of(session, store.partner, brand)
    assert settings.bonus_type == "none" and settings.bonus_percent == 0 and settings.promo_starts_at is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"discount_percent": "ten"}, "The discount must be a number"),
        ({"discount_percent": "10.555"}, "The discount can have at most 2 decimals"),
        ({"discount_percent": "101"}, "The discount must be from 0 to 100 %"),
        ({"discount_percent": "-1"}, "The discount must be from 0 to 100 %"),
        ({"discount_percent": "100"}, "A discount must be below 100 %"),
        ({"discount_percent": "NaN"}, "The discount must be a number"),
        ({"fee": "-1"}, "The fee can't be negative"),
        ({"fee": "1.001"}, "Fee has more than 2 decimal places"),
        ({"fee": "lots"}, "Fee must be a number"),
        ({"discount_percent": "5", "fee": "1"}, "Choose a discount or a fee, not both"),
        ({"bonus_type": "value", "bonus_percent": "0"}, "Enter a bonus percent above 0"),
        ({"bonus_type": "cash", "bonus_percent": "100.5"}, "The bonus must be from 0 to 100 %"),
        ({"bonus_type": "cash", "bonus_percent": "2.999"}, "The bonus can have at most 2 decimals"),
        ({"bonus_type": "mystery", "bonus_percent": "5"}, "Choose a bonus: none, value or cash back"),
        (
            {
                "bonus_type": "value",
                "bonus_percent": "5",
                "promo_starts_at": "2030-02-01T00:00",
                "promo_ends_at": "2030-01-01T00:00",
            },
            "The promotion must end after it starts",
        ),
        (
            {
                "bonus_type": "value",
                "bonus_percent": "5",
                "promo_starts_at": "2030-01-01T00:00",
                "promo_ends_at": "2030-01-01T00:00",
            },
            "The promotion must end after it starts",
        ),
        ({"promo_ends_at": "tomorrow"}, "The promotion end must be a date and time"),
    ],
)
def test_bad_settings_are_refused_in_place_and_change_nothing(session, store, admin, make_brand, fields, message):
    brand = make_brand("Iris Ice Cream")
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="value", bonus_percent=Decimal(10))
    before = settings_of(session, store.partner, brand).model_dump()
    events = audit_count(session)
    response = admin.post(f"/brands/{brand.id}", SETTINGS | {"bonus_type": "value", "bonus_percent": "10"} | fields)
    assert response.status_code == 422
    assert message in page(response)
    typed = next(iter(fields.values()))
    assert f'value="{typed}"' in page(response) or fields.get("bonus_type") == "mystery"  # the form keeps what was typed
    assert settings_of(session, store.partner, brand).model_dump() == before
    assert audit_count(session) == events


def test_a_fee_is_refused_when_the_program_has_several_currencies(session, store, admin, make_brand):
    """A fee is one amount in minor units: with USD and JPY, "300" would be ¥300 and $3.00 at once."""
    brand = make_brand("Kestrel Kites")
    catalog.make_available(session, partner=store.partner, brand=brand)
    with write_transaction(session):
        store.partner.currencies = "USD,JPY"
        session.add(store.partner)
    before = settings_of(session, store.partner, brand).model_dump()
    response = admin.post(f"/brands/{brand.id}", SETTINGS | {"fee": "3.00"})
    assert response.status_code == 422
    assert "your program has several (USD, JPY): use a discount instead" in page(response)
    assert settings_of(session, store.partner, brand).model_dump() == before
    assert admin.post(f"/brands/{brand.id}", SETTINGS | {"discount_percent": "3"}).status_code in (200, 303)


def test_operators_cannot_change_brands_and_unknown_brands_are_not_found(
    session, store, make_team_member, portal_as, admin, make_brand
):
    brand = make_brand("Juniper Jewels")
    operator = portal_as(make_team_member(store.partner, "operator"))
    assert operator.get("/brands").status_code == 200
    assert operator.post(f"/brands/{brand.id}/enable").status_code == 403
    assert settings_of(session, store.partner, brand) is None
    retired = make_brand("Kiln Crafts")
    with write_transaction(session):
        retired.is_active = False
        session.add(retired)
    assert admin.get(f"/brands/{retired.id}").status_code == 404
    assert admin.post(f"/brands/{retired.id}/enable").status_code == 404
    assert admin.post("/brands/999999", SETTINGS).status_code == 404
    assert settings_of(session, store.partner, retired) is None
    assert reload(session, Brand, brand.id).is_active
