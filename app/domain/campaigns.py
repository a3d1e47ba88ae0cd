"""Campaign rules: a partner's budget that its chosen consumers spend on the brands it allows, inside a
time window, before their general and bonus balances. Pure rules: no database, no Flask.

States: scheduled -> active (when its start time comes), active <-> paused, any of those -> ended.
Ended is final. A campaign balance pays only while the campaign is active and inside its window, and
only for a brand the campaign allows (no brands and no categories listed = every brand of the partner).

The seed's deduction order: eligible campaign balances (higher priority first, then the one ending
soonest, one without an end last, then the older campaign), then the general balance, then bonus.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from app.domain.errors import DomainError, InvalidInput
from app.domain.money import Money
from app.domain.pricing import Source, split_charge
from app.domain.text import character_refusal

NAME_MAX = 120
PRIORITY_MIN, PRIORITY_MAX = 0, 1000
LIST_MAX = 200  # brands or categories on one campaign


class CampaignStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its start time
    ACTIVE = "active"  # balances can be spent (inside the window)
    PAUSED = "paused"  # nothing can be spent until it is resumed
    ENDED = "ended"  # final: unused balances went back to the budget

    @property
    def is_final(self) -> bool:
        return self is CampaignStatus.ENDED


_ALLOWED = {
    CampaignStatus.SCHEDULED: {CampaignStatus.ACTIVE, CampaignStatus.ENDED},
    CampaignStatus.ACTIVE: {CampaignStatus.PAUSED, CampaignStatus.ENDED},
    CampaignStatus.PAUSED: {CampaignStatus.ACTIVE, CampaignStatus.ENDED},
    CampaignStatus.ENDED: set(),
}


class CampaignChangeRefused(DomainError):
    """The campaign is not in a state that allows this (e.g. resuming an ended campaign)."""


def may_become(new: CampaignStatus | str) -> list[str]:
    """The statuses from which a campaign may move to `new` (for conditional updates)."""
    new = CampaignStatus(new)
    return [current.value for current, allowed in _ALLOWED.items() if new in allowed]


def check_transition(current: CampaignStatus | str, new: CampaignStatus | str) -> None:
    current, new = CampaignStatus(current), CampaignStatus(new)
    if new not in _ALLOWED[current]:
        raise CampaignChangeRefused(f"A campaign that is {current} cannot become {new}.")


def initial_status(starts_at: datetime, now: datetime) -> CampaignStatus:
    return CampaignStatus.ACTIVE if starts_at <= now else CampaignStatus.SCHEDULED


def is_spendable(status: CampaignStatus | str, starts_at: datetime, ends_at: datetime | None, now: datetime) -> bool:
    """A campaign balance pays only while the campaign is active and `now` is inside [starts_at, ends_at)."""
    return CampaignStatus(status) is CampaignStatus.ACTIVE and starts_at <= now and (ends_at is None or now < ends_at)


def allows_brand(brand_slugs: Iterable[str], categories: Iterable[str], brand_slug: str, brand_category: str) -> bool:
    """Whether a campaign with these lists pays for this brand. Both lists empty: every brand of the partner;
    otherwise the brand is listed by its slug or its category is (categories compare without case)."""
    slugs, cats = list(brand_slugs), [c.casefold() for c in categories]
    if not slugs and not cats:
        return True
    return brand_slug in slugs or (brand_category or "").casefold() in cats


# --- the campaign's settings ---------------------------------------------------------------


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"The campaign's name must be 1-{NAME_MAX} characters.", field="name")
    problem = character_refusal(name)  # consumers read it in their wallet: no control or direction-changing characters
    if problem:
        raise InvalidInput(f"The campaign's name {problem}.", field="name")
    return name


def clean_list(values: Iterable[str], *, field: str, label: str) -> list[str]:
    """Trimmed, without blanks and repeats, in the order given. A comma is refused: lists are stored comma-separated."""
    cleaned: list[str] = []
    for value in values or ():
        value = " ".join(str(value).split())
        if not value:
            continue
        if "," in value:
            raise InvalidInput(f"A {label} can't contain a comma: '{value}'.", field=field)
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > LIST_MAX:
        raise InvalidInput(f"A campaign can list at most {LIST_MAX} {label}s.", field=field)
    return cleaned


def check_per_consumer_amount(amount: Money) -> None:
    if amount.amount <= 0:
        raise InvalidInput("The amount per consumer must be more than zero.", field="per_consumer_amount")


def check_priority(priority: int) -> None:
    if type(priority) is not int or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidInput(f"Priority must be a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}.", field="priority")


def check_window(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("The campaign must end after it starts.", field="ends_at")
    if ends_at is not None and ends_at <= now:
        raise InvalidInput("The campaign's end must be in the future.", field="ends_at")


def scope_label(brand_names: Iterable[str], categories: Iterable[str]) -> str:
    """What a campaign balance can buy, in the store's words: "All brands", "Health & Beauty brands",
    "Health & Beauty and Travel brands, Acme Spa"."""
    names, cats = list(brand_names), list(categories)
    if not names and not cats:
        return "All brands"
    parts = []
    if cats:
        joined = cats[0] if len(cats) == 1 else ", ".join(cats[:-1]) + " and " + cats[-1]
        parts.append(f"{joined} brands")
    parts += names
    return ", ".join(parts)


def budget_low(budget: Money, per_consumer_amount: Money) -> bool:
    """The budget can't pay for the next member's allocation (the `campaign.budget_low` event)."""
    return budget.amount < per_consumer_amount.amount


# --- which balances pay, in which order -------------------------------------------------------


class BrandLike(Protocol):
    @property
    def slug(self) -> str: ...

    @property
    def category(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """What the spending order needs to know about one campaign."""

    campaign_id: int
    name: str
    status: CampaignStatus | str
    starts_at: datetime
    ends_at: datetime | None = None
    priority: int = 0
    brand_slugs: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def spendable(self, now: datetime) -> bool:
        return is_spendable(self.status, self.starts_at, self.ends_at, now)

    def allows(self, brand: BrandLike) -> bool:
        return allows_brand(self.brand_slugs, self.categories, brand.slug, brand.category)


GENERAL, BONUS, CAMPAIGN = "general", "bonus", "campaign"  # AccountKind values (app/domain/ledger.py)


@dataclass(frozen=True, slots=True)
class Balance:
    """One of a consumer's balances: `key` identifies it to the caller (an account id); `campaign` is set
    for a campaign balance (kind "campaign") and None for the general and bonus balances."""

    key: object
    kind: str
    available: Money
    campaign: CampaignRules | None = field(default=None)

    @property
    def label(self) -> str:
        if self.campaign is not None:
            return f"{self.campaign.name} balance"
        return {GENERAL: "General balance", BONUS: "Bonus balance"}.get(self.kind, f"{self.kind.title()} balance")


def _campaign_order(balance: Balance) -> tuple:
    rules = balance.campaign
    assert rules is not None  # only campaign balances (filtered in spending_order) are sorted with this
    # Higher priority first; then the one ending soonest (no end date: last); then the older campaign.
    # (Tuples compare left to right: end dates are only compared between campaigns that both have one.)
    return (-rules.priority, rules.ends_at is None, rules.ends_at or 0, rules.campaign_id, str(balance.key))


def spending_order(balances: Iterable[Balance], now: datetime, brand: BrandLike) -> list[Balance]:
    """The balances that may pay for `brand` at `now`, in the order they pay: eligible campaign balances,
    then general, then bonus. A campaign balance that is paused, ended, scheduled, outside its window or
    for other brands is left out. One currency: the caller passes the balances of the price's currency."""
    balances = list(balances)
    campaigns = [
        b
        for b in balances
        if b.kind == CAMPAIGN and b.campaign is not None and b.campaign.spendable(now) and b.campaign.allows(brand)
    ]
    campaigns.sort(key=_campaign_order)
    general = sorted((b for b in balances if b.kind == GENERAL), key=lambda b: str(b.key))
    bonus = sorted((b for b in balances if b.kind == BONUS), key=lambda b: str(b.key))
    return campaigns + general + bonus


def split_price(price: Money, balances: Iterable[Balance], now: datetime, brand: BrandLike) -> list[tuple[Balance, Money]]:
    """Which balances pay how much of `price`: the spending order, each taking what it can. The parts add up
    to the price exactly (whole minor units, nothing rounded); InsufficientFunds when they can't."""
    ordered = spending_order(balances, now, brand)
    by_position: dict[object, Balance] = {position: balance for position, balance in enumerate(ordered)}
    parts = split_charge(price, [Source(position, balance.available) for position, balance in by_position.items()])
    return [(by_position[position], part) for position, part in parts]
