"""What a gift card costs and what it is worth: price adjustments, bonuses, and which
wallet balances pay for it. Pure rules; every amount is a whole number of minor units.

Rounding, written down once:
- a percent discount rounds DOWN (the consumer never gets more off than stated);
- a bonus, of either kind, rounds DOWN (never a fraction of a cent, never more than promised);
- a fee is a fixed amount added to the price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.errors import InsufficientFunds, InvalidInput
from app.domain.money import Money


class BonusType(StrEnum):
    NONE = "none"
    VALUE = "value"  # the card is worth more: $50 + 10 % = a $55 card
    CASH = "cash"  # a share of the price paid comes back into the wallet's bonus balance


@dataclass(frozen=True, slots=True)
class PriceRule:
    """A partner's settings for one brand."""

    discount_percent: Decimal = Decimal(0)
    fee: int = 0  # minor units added to the price
    bonus_type: BonusType = BonusType.NONE
    bonus_percent: Decimal = Decimal(0)

    def __post_init__(self):
        if not Decimal(0) <= Decimal(self.discount_percent) < Decimal(100):
            raise InvalidInput("discount must be at least 0 % and below 100 %", field="discount_percent")
        if type(self.fee) is not int or self.fee < 0:
            raise InvalidInput("fee must be zero or more, in minor units", field="fee")
        if not Decimal(0) <= Decimal(self.bonus_percent) <= Decimal(100):
            raise InvalidInput("bonus must be between 0 % and 100 %", field="bonus_percent")


@dataclass(frozen=True, slots=True)
class Quote:
    face_value: Money  # what the consumer chose (a denomination or an amount)
    price: Money  # what the wallet pays
    card_value: Money  # what the gift card is worth
    cash_back: Money  # what comes back into the bonus balance when the order completes

    @property
    def bonus_type(self) -> BonusType:
        if self.card_value > self.face_value:
            return BonusType.VALUE
        if self.cash_back.amount:
            return BonusType.CASH
        return BonusType.NONE


def quote(face_value: Money, rule: PriceRule, *, bonus_active: bool = True) -> Quote:
    """The price, card value and cash back of one card of `face_value` under `rule`.

    `bonus_active` is False outside the bonus's promo window.
    """
    if face_value.amount <= 0:
        raise InvalidInput("amount must be more than zero", field="amount")
    discount = face_value.percent(rule.discount_percent)
    price = face_value - discount + Money(rule.fee, face_value.currency)
    card_value, cash_back = face_value, Money.zero(face_value.currency)
    if bonus_active and rule.bonus_type is BonusType.VALUE:
        card_value = face_value + face_value.percent(rule.bonus_percent)
    elif bonus_active and rule.bonus_type is BonusType.CASH:
        cash_back = price.percent(rule.bonus_percent)
    return Quote(face_value=face_value, price=price, card_value=card_value, cash_back=cash_back)


@dataclass(frozen=True, slots=True)
class Source:
    """A wallet balance that can pay: `key` identifies it to the caller (e.g. an account id)."""

    key: object
    available: Money


def split_charge(amount: Money, sources: list[Source]) -> list[tuple[object, Money]]:
    """Take `amount` from the sources in the order given (the seed's order: campaign
    balances, then general, then bonus). Returns (key, part) for each source used.
    """
    if amount.amount <= 0:
        raise InvalidInput("amount must be more than zero", field="amount")
    remaining = amount.amount
    parts = []
    for source in sources:
        if remaining == 0:
            break
        take = min(remaining, max(source.available.amount, 0))
        if take:
            parts.append((source.key, Money(take, amount.currency)))
            remaining -= take
    if remaining:
        raise InsufficientFunds("Your balance is not enough for this gift card.", field="amount")
    return parts
