from decimal import Decimal

import pytest

from app.domain.errors import InvalidInput
from app.domain.money import Money, minor_digits, normalize_currency


def test_money_is_integer_minor_units_and_refuses_floats():
    assert Money(1250, "USD").amount == 1250
    with pytest.raises(TypeError):
        Money(12.5, "USD")
    with pytest.raises(TypeError):
        Money(True, "USD")
    with pytest.raises(InvalidInput):
        Money.parse(12.5, "USD")


def test_parsing_a_major_amount_is_exact():
    assert Money.parse("12.34", "usd") == Money(1234, "USD")
    assert Money.parse("100", "USD") == Money(10000, "USD")
    assert Money.parse(Decimal("0.10"), "EUR") == Money(10, "EUR")
    assert Money.parse("0.1", "USD").amount == 10
    assert Money.parse("500", "JPY") == Money(500, "JPY")


@pytest.mark.parametrize("value", ["12.345", "1.001", "abc", "", "NaN", "Infinity", "1e-3"])
def test_amounts_with_too_many_decimals_or_not_numbers_are_refused(value):
    with pytest.raises(InvalidInput):
        Money.parse(value, "USD")


def test_yen_has_no_minor_unit():
    assert minor_digits("JPY") == 0
    with pytest.raises(InvalidInput):
        Money.parse("1.5", "JPY")


def test_currency_codes_are_normalised_and_unknown_ones_refused():
    assert normalize_currency(" usd ") == "USD"
    for bad in ["XYZ1", "US", "ZZZ", "", "dollars"]:
        with pytest.raises(InvalidInput):
            normalize_currency(bad)


def test_currencies_never_mix():
    with pytest.raises(ValueError):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(ValueError):
        _ = Money(100, "USD") < Money(100, "EUR")
    assert Money(100, "USD") + Money(50, "USD") == Money(150, "USD")
    assert Money(100, "USD") - Money(150, "USD") == Money(-50, "USD")


def test_a_percentage_rounds_down_to_a_whole_cent():
    assert Money(4999, "USD").percent(10) == Money(499, "USD")
    assert Money(5000, "USD").percent("12.5") == Money(625, "USD")
    assert Money(1, "USD").percent(50) == Money(0, "USD")


def test_to_decimal_and_str():
    assert Money(1234, "USD").to_decimal() == Decimal("12.34")
    assert str(Money(5, "USD")) == "0.05 USD"


@pytest.mark.parametrize("value", ["1e999999999", "9" * 40, "1E+13", "-1e20"])
def test_absurdly_large_or_long_amounts_are_refused_quickly(value):
    with pytest.raises(InvalidInput):
        Money.parse(value, "USD")
