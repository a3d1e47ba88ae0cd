"""Money: integer minor units with an ISO 4217 currency. Never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import format_currency, get_currency_precision, is_currency

from app.domain.errors import InvalidInput

_CODE = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT_TEXT = 32
MAX_MAJOR_DIGITS = 12  # up to 999,999,999,999 in major units


@cache
def normalize_currency(code: str) -> str:
    """'usd' -> 'USD'; raises InvalidInput for anything that is not an ISO currency."""
    if not isinstance(code, str):
        raise InvalidInput("currency must be a three-letter ISO code", field="currency")
    upper = code.strip().upper()
    if not _CODE.match(upper) or not is_currency(upper):
        raise InvalidInput(
            f"currency '{code}' is not a currency we know: use its three-letter code, like USD or EUR", field="currency"
        )
    return upper


@cache
def minor_digits(currency: str) -> int:
    return get_currency_precision(normalize_currency(currency))


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int  # minor units (cents)
    currency: str

    def __post_init__(self):
        if type(self.amount) is not int:
            raise TypeError(f"Money amount must be int minor units, got {type(self.amount).__name__}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, value: str | int | Decimal, currency: str, *, field: str = "amount") -> Money:
        """Parse a major-unit amount ('12.50', Decimal('12.5'), 12) exactly.

        More decimals than the currency has, or anything not a finite number, is refused.
        """
        if isinstance(value, bool) or isinstance(value, float):
            raise InvalidInput(f"{field} must be given as a decimal string or integer", field=field)
        text = str(value).strip()
        if len(text) > MAX_AMOUNT_TEXT:
            raise InvalidInput(f"{field} is too long", field=field)
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise InvalidInput(f"{field} must be a number", field=field) from None
        if not number.is_finite():
            raise InvalidInput(f"{field} must be a number", field=field)
        # '1e999999999' is short but would become a billion-digit integer: refuse it first.
        if number and number.adjusted() > MAX_MAJOR_DIGITS:
            raise InvalidInput(f"{field} is too large", field=field)
        digits = minor_digits(currency)
        scaled = number.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise InvalidInput(f"{field} has more than {digits} decimal places", field=field)
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise ValueError(f"currencies do not mix: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def percent(self, percent: Decimal | int | str) -> Money:
        """`percent` % of this amount, rounded down to a whole minor unit (bonuses round down)."""
        share = (Decimal(self.amount) * Decimal(str(percent)) / 100).to_integral_value(rounding=ROUND_DOWN)
        return Money(int(share), self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal():.{minor_digits(self.currency)}f} {self.currency}"


def format_money(value: Money) -> str:
    """The amount as people read it: $1,000.00 (en_US). For messages; templates use the |money filter."""
    return _format_minor(value.amount, value.currency)


@lru_cache(maxsize=4096)
def _format_minor(amount: int, currency: str) -> str:
    """Babel's formatting is slow (~50 µs) and pure: the same amount always reads the same."""
    return format_currency(Money(amount, currency).to_decimal(), currency, locale="en_US")
