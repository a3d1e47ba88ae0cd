"""Campaign rules: the state machine, when a campaign balance may pay and for what, and the spending order."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.campaigns import (
    Balance,
    CampaignChangeRefused,
    CampaignRules,
    CampaignStatus,
    allows_brand,
    budget_low,
    check_transition,
    check_window,
    clean_list,
    clean_name,
    initial_status,
    is_spendable,
    may_become,
    scope_label,
    spending_order,
    split_price,
)
from app.domain.errors import InsufficientFunds, InvalidInput
from app.domain.money import Money

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
USD = lambda cents: Money(cents, "USD")  # noqa: E731


@dataclass(frozen=True)
class Brand:
    slug: str
    category: str


SPA = Brand("calm-spa", "Health & Beauty")
PIZZA = Brand("pizza-place", "Food & Dining")


def rules(campaign_id=1, *, name="Wellness", status="active", starts=NOW - DAY, ends=None, priority=0, slugs=(), categories=()):
    return CampaignRules(campaign_id, name, status, starts, ends, priority, tuple(slugs), tuple(categories))


def campaign_balance(key, cents, **kwargs):
    return Balance(key, "campaign", USD(cents), rules(**kwargs))


GENERAL = Balance("general", "general", USD(50_00))
BONUS = Balance("bonus", "bonus", USD(5_00))


# --- the state machine ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "current, new",
    [
        ("scheduled", "active"),
        ("scheduled", "ended"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "ended"),
        ("paused", "ended"),
    ],
)
def test_allowed_campaign_changes(current, new):
    check_transition(current, new)
    assert current in may_become(new)


@pytest.mark.parametrize(
    "current, new",
    [
        ("ended", "active"),
        ("ended", "paused"),
        ("ended", "scheduled"),
        ("active", "scheduled"),
        ("scheduled", "paused"),
        ("paused", "scheduled"),
    ],
)
def test_an_ended_campaign_is_final_and_nothing_goes_back_to_scheduled(current, new):
    with pytest.raises(CampaignChangeRefused):
        check_transition(current, new)
    assert current not in may_become(new)


def test_a_campaign_starting_later_is_scheduled_and_one_starting_now_is_active():
    assert initial_status(NOW + DAY, NOW) is CampaignStatus.SCHEDULED
    assert initial_status(NOW, NOW) is CampaignStatus.ACTIVE
    assert CampaignStatus.ENDED.is_final and not CampaignStatus.PAUSED.is_final


def test_a_campaign_must_end_after_it_starts_and_in_the_future():
    check_window(NOW, None, NOW)
    check_window(NOW, NOW + DAY, NOW)
    with pytest.raises(InvalidInput):
        check_window(NOW, NOW, NOW)
    with pytest.raises(InvalidInput):
        check_window(NOW - 2 * DAY, NOW - DAY, NOW)


# --- when and for what a campaign balance pays -----------------------------------------------


def test_a_campaign_balance_pays_only_while_active_and_inside_its_window():
    assert is_spendable("active", NOW - DAY, None, NOW)
    assert is_spendable("active", NOW, NOW + DAY, NOW)  # from its first moment
    assert not is_spendable("active", NOW - DAY, NOW, NOW)  # not at its end
    assert not is_spendable("active", NOW + DAY, None, NOW)  # not before its start
    for status in ("scheduled", "paused", "ended"):
        assert not is_spendable(status, NOW - DAY, NOW + DAY, NOW)


def test_a_campaign_with_no_brands_and_no_categories_pays_for_every_brand():
    assert allows_brand([], [], "pizza-place", "Food & Dining")


def test_a_campaign_pays_for_the_brands_it_lists_or_their_categories_only():
    assert allows_brand(["calm-spa"], [], "calm-spa", "Health & Beauty")
    assert not allows_brand(["calm-spa"], [], "pizza-place", "Food & Dining")
    assert allows_brand([], ["Health & Beauty"], "other-spa", "Health & Beauty")
    assert allows_brand([], ["health & beauty"], "other-spa", "Health & Beauty")  # categories compare without case
    assert not allows_brand([], ["Health & Beauty"], "pizza-place", "Food & Dining")
    assert allows_brand(["pizza-place"], ["Health & Beauty"], "pizza-place", "Food & Dining")  # either list


def test_lists_are_trimmed_and_deduplicated_and_refuse_commas():
    assert clean_list([" calm-spa ", "calm-spa", "", "pizza-place"], field="brands", label="brand") == ["calm-spa", "pizza-place"]
    with pytest.raises(InvalidInput):
        clean_list(["Food, Drink"], field="categories", label="category")


def test_what_a_campaign_can_buy_in_the_stores_words():
    assert scope_label([], []) == "All brands"
    assert scope_label([], ["Health & Beauty"]) == "Health & Beauty brands"
    assert scope_label(["Calm Spa"], ["Health & Beauty", "Travel"]) == "Health & Beauty and Travel brands, Calm Spa"


def test_the_budget_is_low_when_it_cannot_pay_the_next_allocation():
    assert budget_low(USD(49_99), USD(50_00)) and not budget_low(USD(50_00), USD(50_00))


# --- the spending order --------------------------------------------------------------------


def test_campaign_balances_pay_first_then_general_then_bonus():
    order = spending_order([BONUS, GENERAL, campaign_balance("wellness", 10_00)], NOW, SPA)
    assert [b.key for b in order] == ["wellness", "general", "bonus"]


def test_several_campaigns_pay_by_priority_then_the_one_ending_soonest_then_the_older():
    balances = [
        campaign_balance("no-end", 1_00, campaign_id=1),
        campaign_balance("ends-later", 1_00, campaign_id=2, ends=NOW + 10 * DAY),
        campaign_balance("ends-soon", 1_00, campaign_id=3, ends=NOW + DAY),
        campaign_balance("high-priority", 1_00, campaign_id=4, priority=5),
        campaign_balance("no-end-newer", 1_00, campaign_id=5),
        campaign_balance("ends-soon-newer", 1_00, campaign_id=6, ends=NOW + DAY),
    ]
    order = spending_order([GENERAL, *balances], NOW, SPA)
    assert [b.key for b in order] == [
        "high-priority",
        "ends-soon",
        "ends-soon-newer",
        "ends-later",
        "no-end",
        "no-end-newer",
        "general",
    ]


def test_a_campaign_balance_that_may_not_pay_is_left_out():
    balances = [
        campaign_balance("other-brands", 10_00, campaign_id=1, slugs=["pizza-place"]),
        campaign_balance("other-category", 10_00, campaign_id=2, categories=["Travel"]),
        campaign_balance("paused", 10_00, campaign_id=3, status="paused"),
        campaign_balance("ended", 10_00, campaign_id=4, status="ended"),
        campaign_balance("scheduled", 10_00, campaign_id=5, status="scheduled", starts=NOW + DAY),
        campaign_balance("over", 10_00, campaign_id=6, ends=NOW - timedelta(seconds=1)),
        campaign_balance("this-category", 10_00, campaign_id=7, categories=["Health & Beauty"]),
    ]
    assert [b.key for b in spending_order([*balances, GENERAL, BONUS], NOW, SPA)] == ["this-category", "general", "bonus"]
    assert [b.key for b in spending_order([*balances, GENERAL], NOW, PIZZA)] == ["other-brands", "general"]


def test_a_price_is_split_across_balances_exactly_to_the_cent():
    balances = [
        campaign_balance("wellness", 33_33, campaign_id=1),
        campaign_balance("winter", 1, campaign_id=2, priority=1),
        GENERAL,
        BONUS,
    ]
    parts = split_price(USD(83_35), balances, NOW, SPA)
    assert [(b.key, part) for b, part in parts] == [
        ("winter", USD(1)),
        ("wellness", USD(33_33)),
        ("general", USD(50_00)),
        ("bonus", USD(1)),
    ]
    assert sum(part.amount for _b, part in parts) == 83_35
    assert [b.label for b, _part in parts] == ["Wellness balance", "Wellness balance", "General balance", "Bonus balance"]


def test_a_price_the_eligible_balances_cannot_cover_is_refused_even_if_another_campaign_could():
    balances = [campaign_balance("pizza-only", 100_00, slugs=["pizza-place"]), GENERAL, BONUS]
    with pytest.raises(InsufficientFunds):
        split_price(USD(55_01), balances, NOW, SPA)
    assert split_price(USD(55_01), balances, NOW, PIZZA)[0][0].key == "pizza-only"


@st.composite
def wallets(draw):
    campaigns = draw(
        st.lists(
            st.tuples(
                st.integers(0, 50_00),  # balance
                st.sampled_from(["active", "paused", "ended", "scheduled"]),
                st.integers(0, 3),  # priority
                st.one_of(st.none(), st.integers(1, 30)),  # ends in n days
                st.sampled_from([(), ("calm-spa",), ("pizza-place",)]),
                st.sampled_from([(), ("Health & Beauty",), ("Travel",)]),
            ),
            max_size=6,
        )
    )
    balances = [
        campaign_balance(
            f"c{i}",
            cents,
            campaign_id=i,
            status=status,
            priority=priority,
            ends=NOW + days * DAY if days else None,
            slugs=slugs,
            categories=cats,
        )
        for i, (cents, status, priority, days, slugs, cats) in enumerate(campaigns)
    ]
    general = Balance("general", "general", USD(draw(st.integers(0, 100_00))))
    bonus = Balance("bonus", "bonus", USD(draw(st.integers(0, 10_00))))
    return draw(st.permutations([*balances, general, bonus]))


@given(balances=wallets(), price=st.integers(1, 500_00), brand=st.sampled_from([SPA, PIZZA]))
def test_any_split_pays_the_price_exactly_from_eligible_balances_in_the_seeds_order(balances, price, brand):
    eligible = spending_order(balances, NOW, brand)
    available = sum(b.available.amount for b in eligible)
    if price > available:
        with pytest.raises(InsufficientFunds):
            split_price(USD(price), balances, NOW, brand)
        return
    parts = split_price(USD(price), balances, NOW, brand)
    assert sum(part.amount for _b, part in parts) == price
    assert all(0 < part.amount <= b.available.amount for b, part in parts)
    for b, _part in parts:
        if b.kind == "campaign":
            assert b.campaign.spendable(NOW) and b.campaign.allows(brand)
    # Each balance is used up before the next one is touched; campaign, then general, then bonus.
    positions = [eligible.index(b) for b, _part in parts]
    assert positions == sorted(positions)
    for b, part in parts[:-1]:
        assert part == b.available
    kinds = [b.kind for b, _part in parts]
    assert kinds == sorted(kinds, key=["campaign", "general", "bonus"].index)


@pytest.mark.parametrize(
    ("name", "named"),
    [("Well\u202eness", "U+202E RIGHT-TO-LEFT OVERRIDE"), ("Wellness\x00", "U+0000"), ("Bonus\u2066", "U+2066")],
)
def test_a_campaign_name_refuses_control_and_direction_characters_naming_them(name, named):
    with pytest.raises(InvalidInput) as refused:
        clean_name(name)
    assert named in refused.value.message and refused.value.field == "name"


def test_a_campaign_name_keeps_letters_of_every_script():
    assert clean_name("  Bien-être   \u0648\u0644\u0646\u0633 ") == "Bien-être \u0648\u0644\u0646\u0633"
