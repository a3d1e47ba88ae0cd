"""A partner's catalog: enabled brands only, search, category, sort, pages, and quotes."""

from datetime import timedelta
from decimal import Decimal

import pytest

from app.clock import utcnow
from app.domain.errors import InvalidInput, NotFound
from app.domain.money import Money
from app.services import catalog


def test_only_brands_the_partner_enabled_are_shown(session, make_partner, make_brand):
    partner, other = make_partner(), make_partner()
    shown, hidden, elsewhere = make_brand("Bluefin Sushi"), make_brand("Cobalt Coffee"), make_brand("Drift Cinema")
    catalog.make_available(session, partner=partner, brand=shown)
    catalog.make_available(session, partner=partner, brand=hidden, enabled=False)
    catalog.make_available(session, partner=other, brand=elsewhere)
    assert [o.brand.name for o in catalog.browse(session, partner).offers] == ["Bluefin Sushi"]
    with pytest.raises(NotFound):
        catalog.offer(session, partner, "cobalt-coffee")
    with pytest.raises(NotFound):
        catalog.offer(session, partner, "drift-cinema")


def test_search_category_sort_and_pages(session, make_partner, make_brand):
    partner = make_partner()
    for name, category, bonus in [
        ("Alder Books", "Books", 5),
        ("Birch Burgers", "Food & Dining", 15),
        ("Cedar Books", "Books", 10),
    ]:
        catalog.make_available(
            session, partner=partner, brand=make_brand(name, category=category), bonus_type="value", bonus_percent=Decimal(bonus)
        )
    assert [o.brand.name for o in catalog.browse(session, partner, query="BOOKS").offers] == ["Alder Books", "Cedar Books"]
    assert [o.brand.name for o in catalog.browse(session, partner, category="Food & Dining").offers] == ["Birch Burgers"]
    assert [o.brand.name for o in catalog.browse(session, partner, sort="bonus").offers][0] == "Birch Burgers"
    second = catalog.browse(session, partner, per_page=2, page=2)
    assert (second.total, second.pages, [o.brand.name for o in second.offers]) == (3, 2, ["Cedar Books"])
    assert catalog.categories(session, partner) == ["Books", "Food & Dining"]


def test_a_quote_checks_denominations_ranges_and_currency(session, make_partner, make_brand):
    partner = make_partner()
    fixed = make_brand("Fixed Gifts")
    ranged = make_brand("Range Gifts", denominations="", min_amount=5_00, max_amount=100_00)
    catalog.make_available(session, partner=partner, brand=fixed, bonus_type="value", bonus_percent=Decimal(10))
    catalog.make_available(session, partner=partner, brand=ranged, bonus_type="cash", bonus_percent=Decimal(5))
    fixed_offer, ranged_offer = catalog.offer(session, partner, "fixed-gifts"), catalog.offer(session, partner, "range-gifts")
    assert fixed_offer.quote(Money(50_00, "USD")).card_value == Money(55_00, "USD")
    assert fixed_offer.bonus_badge == "+10% value" and ranged_offer.bonus_badge == "5% back"
    with pytest.raises(InvalidInput, match="Choose one of the amounts"):
        fixed_offer.quote(Money(30_00, "USD"))
    assert ranged_offer.quote(Money(20_00, "USD")).cash_back == Money(1_00, "USD")
    with pytest.raises(InvalidInput, match=r"from \$5\.00 to \$100\.00"):
        ranged_offer.quote(Money(100_01, "USD"))
    with pytest.raises(InvalidInput, match="not sold in EUR"):
        ranged_offer.quote(Money(20_00, "EUR"))


def test_a_bonus_outside_its_promo_window_is_not_offered(session, make_partner, make_brand):
    partner = make_partner()
    brand = make_brand("Promo Gifts")
    catalog.make_available(
        session,
        partner=partner,
        brand=brand,
        bonus_type="value",
        bonus_percent=Decimal(10),
        promo_starts_at=utcnow() + timedelta(days=1),
    )
    offer = catalog.offer(session, partner, "promo-gifts")
    assert offer.bonus_badge is None
    assert offer.quote(Money(50_00, "USD")).card_value == Money(50_00, "USD")
