from decimal import Decimal

import pytest

from app.domain.errors import InsufficientFunds, InvalidInput
from app.domain.money import Money
from app.domain.pricing import BonusType, PriceRule, Source, quote, split_charge

USD = lambda cents: Money(cents, "USD")  # noqa: E731


def test_a_value_bonus_makes_the_card_worth_more_for_the_same_price():
    q = quote(USD(50_00), PriceRule(bonus_type=BonusType.VALUE, bonus_percent=Decimal(10)))
    assert (q.price, q.card_value, q.cash_back) == (USD(50_00), USD(55_00), USD(0))
    assert q.bonus_type is BonusType.VALUE


def test_a_cash_bonus_pays_a_share_of_the_price_back_and_the_card_keeps_its_face_value():
    q = quote(USD(50_00), PriceRule(bonus_type=BonusType.CASH, bonus_percent=Decimal(10)))
    assert (q.price, q.card_value, q.cash_back) == (USD(50_00), USD(50_00), USD(5_00))
    assert q.bonus_type is BonusType.CASH


def test_a_discount_lowers_the_price_and_rounds_in_the_partners_favour():
    q = quote(USD(33_33), PriceRule(discount_percent=Decimal("10")))
    assert q.price == USD(33_33 - 3_33)  # 3.333 off rounds down to 3.33
    assert q.card_value == USD(33_33)


def test_a_fee_is_added_to_the_price():
    assert quote(USD(25_00), PriceRule(fee=1_50)).price == USD(26_50)


def test_bonuses_round_down_to_a_whole_cent():
    assert quote(USD(9_99), PriceRule(bonus_type=BonusType.VALUE, bonus_percent=Decimal("12.5"))).card_value == USD(11_23)
    assert quote(USD(9_99), PriceRule(bonus_type=BonusType.CASH, bonus_percent=Decimal("12.5"))).cash_back == USD(1_24)
    assert quote(USD(1), PriceRule(bonus_type=BonusType.CASH, bonus_percent=Decimal(50))).cash_back == USD(0)


def test_a_cash_bonus_is_a_share_of_the_discounted_price():
    rule = PriceRule(discount_percent=Decimal(10), bonus_type=BonusType.CASH, bonus_percent=Decimal(10))
    q = quote(USD(50_00), rule)
    assert (q.price, q.cash_back) == (USD(45_00), USD(4_50))


def test_no_bonus_outside_the_promo_window():
    q = quote(USD(50_00), PriceRule(bonus_type=BonusType.VALUE, bonus_percent=Decimal(10)), bonus_active=False)
    assert q.card_value == USD(50_00) and q.bonus_type is BonusType.NONE


@pytest.mark.parametrize(
    "kwargs",
    [{"discount_percent": Decimal(100)}, {"discount_percent": Decimal(-1)}, {"fee": -1}, {"bonus_percent": Decimal(101)}],
)
def test_impossible_rules_are_refused(kwargs):
    with pytest.raises(InvalidInput):
        PriceRule(**kwargs)


def test_the_charge_takes_campaign_then_general_then_bonus():
    sources = [Source("campaign", USD(10_00)), Source("general", USD(30_00)), Source("bonus", USD(20_00))]
    assert split_charge(USD(45_00), sources) == [("campaign", USD(10_00)), ("general", USD(30_00)), ("bonus", USD(5_00))]
    assert split_charge(USD(5_00), sources) == [("campaign", USD(5_00))]


def test_empty_balances_are_skipped_and_a_short_wallet_is_refused():
    sources = [Source("campaign", USD(0)), Source("general", USD(10_00)), Source("bonus", USD(1_00))]
    assert split_charge(USD(10_50), sources) == [("general", USD(10_00)), ("bonus", USD(50))]
    with pytest.raises(InsufficientFunds):
        split_charge(USD(11_01), sources)
