import dataclasses
import re
from collections import Counter

import pytest

from app.demo_brands import CATEGORIES, DEMO_BRANDS, DemoBrand, brand_problems, validate_demo_brands

BRAND = DEMO_BRANDS[0]


def test_the_demo_catalog_passes_its_own_validation():
    validate_demo_brands()


@pytest.mark.parametrize("brand", DEMO_BRANDS, ids=lambda b: b.slug)
def test_every_demo_brand_is_valid(brand):
    assert brand_problems(brand) == []


def test_there_are_about_forty_brands_in_exactly_eight_categories():
    assert 36 <= len(DEMO_BRANDS) <= 44
    per_category = Counter(b.category for b in DEMO_BRANDS)
    assert set(per_category) == set(CATEGORIES) and len(CATEGORIES) == 8
    assert all(4 <= n <= 6 for n in per_category.values())


def test_slugs_names_and_colours_are_unique():
    for field in ("slug", "name", "color"):
        values = [getattr(b, field) for b in DEMO_BRANDS]
        assert len(values) == len(set(values)), field


def test_about_a_third_of_the_brands_take_any_amount_in_a_range():
    variable = [b for b in DEMO_BRANDS if b.is_variable]
    assert len(DEMO_BRANDS) // 4 <= len(variable) <= len(DEMO_BRANDS) // 2
    for brand in variable:
        assert brand.denominations == ()
        assert 0 < brand.min_amount < brand.max_amount
    for brand in DEMO_BRANDS:
        if not brand.is_variable:
            assert brand.min_amount is None and brand.max_amount is None
            assert all(type(a) is int and a > 0 for a in brand.denominations)


def test_the_catalog_mixes_pins_currencies_retries_and_redemption_links():
    pins = sum(b.has_pin for b in DEMO_BRANDS)
    assert len(DEMO_BRANDS) // 3 <= pins <= 2 * len(DEMO_BRANDS) // 3
    currencies = Counter(b.currencies for b in DEMO_BRANDS)
    assert currencies.most_common(1)[0][0] == ("USD",)
    assert currencies[("USD", "EUR")] >= 2 and currencies[("EUR", "GBP")] >= 2
    assert any(b.redemption_url is None for b in DEMO_BRANDS)
    assert sum(b.supports_retry for b in DEMO_BRANDS) > len(DEMO_BRANDS) // 2
    assert not all(b.supports_retry for b in DEMO_BRANDS)


def test_redemption_urls_are_templates_on_example_domains():
    for brand in DEMO_BRANDS:
        if brand.redemption_url is not None:
            assert re.match(r"^https://([a-z]+\.)?example\.(com|org|net)/", brand.redemption_url)
            url = brand.redemption_url.format(code="ABC123", pin="0000")
            assert "ABC123" in url and "{" not in url


def test_redemption_instructions_are_two_to_four_numbered_steps():
    for brand in DEMO_BRANDS:
        steps = brand.redemption_instructions.splitlines()
        assert 2 <= len(steps) <= 4
        assert [s.split(".")[0] for s in steps] == [str(n) for n in range(1, len(steps) + 1)]


def test_demo_brands_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BRAND.name = "Changed"


def test_every_demo_brand_has_a_logo():
    for brand in DEMO_BRANDS:
        assert brand.logo_svg().startswith("<svg ")


def _broken(**changes) -> DemoBrand:
    return dataclasses.replace(BRAND, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "Bluefin Sushi"},
        {"slug": "bluefin--sushi"},
        {"name": "  "},
        {"category": "Pets"},
        {"color": "#ABCDEF"},
        {"color": "blue"},
        {"currencies": ()},
        {"currencies": ("usd",)},
        {"currencies": ("USD", "USD")},
        {"denominations": (1000, 0)},
        {"denominations": (25.0,)},
        {"denominations": (5000, 1000)},
        {"denominations": (1000,), "min_amount": 500, "max_amount": 5000},
        {"denominations": (), "min_amount": None, "max_amount": None},
        {"denominations": (), "min_amount": 5000, "max_amount": 5000},
        {"denominations": (), "min_amount": -1, "max_amount": 5000},
        {"redemption_instructions": "Just use it."},
        {"redemption_instructions": "1. One\n3. Three"},
        {"redemption_url": "http://redeem.example.com/x?code={code}"},
        {"redemption_url": "https://redeem.real-brand.com/x?code={code}"},
        {"redemption_url": "https://redeem.example.com/x"},
        {"redemption_url": "https://redeem.example.com/x?code={code}&user={user}"},
        {"redemption_url": "https://redeem.example.com/x?code={code}&pin={pin}", "has_pin": False},
    ],
)
def test_a_broken_brand_is_reported(changes):
    assert brand_problems(_broken(**changes))
    with pytest.raises(ValueError):
        validate_demo_brands((*DEMO_BRANDS[1:], _broken(**changes)))


def test_duplicates_and_missing_or_crowded_categories_are_reported():
    with pytest.raises(ValueError, match="duplicate slug"):
        validate_demo_brands((*DEMO_BRANDS, _broken(name="Another Name")))
    with pytest.raises(ValueError, match="categories"):
        validate_demo_brands(tuple(b for b in DEMO_BRANDS if b.category != "Travel"))
    crowded = tuple(_broken(slug=f"extra-{n}", name=f"Extra {n}") for n in range(3))
    with pytest.raises(ValueError, match="expected 4-6"):
        validate_demo_brands(DEMO_BRANDS + crowded)
