"""The catalog as one partner's consumers see it: enabled brands with price and bonus."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from sqlalchemy import bindparam, event, func, or_
from sqlmodel import Session, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.money import Money
from app.domain.pricing import BonusType, PriceRule, Quote, quote
from app.models import Brand, Partner, PartnerBrand

SORTS = {"name": "Name", "bonus": "Biggest bonus", "category": "Category"}


@dataclass(frozen=True)
class Offer:
    """A brand in one partner's store, with that partner's price rule."""

    brand: Brand
    settings: PartnerBrand
    now: datetime

    @property
    def rule(self) -> PriceRule:
        return PriceRule(
            discount_percent=Decimal(self.settings.discount_percent),
            fee=self.settings.fee,
            bonus_type=BonusType(self.settings.bonus_type),
            bonus_percent=Decimal(self.settings.bonus_percent),
        )

    @property
    def bonus_active(self) -> bool:
        starts, ends = self.settings.promo_starts_at, self.settings.promo_ends_at
        return (starts is None or starts <= self.now) and (ends is None or self.now < ends)

    @cached_property  # the tile asks twice; `now` is fixed, so the answer is too
    def bonus_badge(self) -> str | None:
        percent = Decimal(self.settings.bonus_percent).normalize()
        if not self.bonus_active or not percent:
            return None
        if self.settings.bonus_type == BonusType.VALUE:
            return f"+{percent:f}% value"
        if self.settings.bonus_type == BonusType.CASH:
            return f"{percent:f}% back"
        return None

    def amount_problem(self, amount: Money) -> str | None:
        """Why this amount can't be bought, or None."""
        brand = self.brand
        if amount.currency not in brand.currency_list:
            return f"{brand.name} gift cards are not sold in {amount.currency}."
        if brand.denomination_list:
            if amount.amount not in brand.denomination_list:
                return "Choose one of the amounts shown."
        elif not (brand.min_amount or 0) <= amount.amount <= (brand.max_amount or 0):
            low, high = Money(brand.min_amount or 0, amount.currency), Money(brand.max_amount or 0, amount.currency)
            return f"Enter an amount from {low.to_decimal()} to {high.to_decimal()} {amount.currency}."
        return None

    def quote(self, amount: Money) -> Quote:
        problem = self.amount_problem(amount)
        if problem:
            raise InvalidInput(problem, field="amount")
        return quote(amount, self.rule, bonus_active=self.bonus_active)


@dataclass(frozen=True)
class CatalogPage:
    offers: list[Offer]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def badges_change_at(self) -> datetime | None:
        """The next moment a promo window of an offer on this page opens or closes (None: no such moment).

        Until then the page reads the same: only the bonus badges depend on the time, never the
        offers found, their order or the total.
        """
        moments = [
            moment
            for offer in self.offers
            for moment in (offer.settings.promo_starts_at, offer.settings.promo_ends_at)
            if moment is not None and moment > offer.now
        ]
        return min(moments, default=None)


def _visible(partner: Partner, currency: str | None):
    statement = (
        select(Brand, PartnerBrand)
        .join(PartnerBrand, PartnerBrand.brand_id == Brand.id)
        .where(PartnerBrand.partner_id == partner.id, PartnerBrand.enabled, Brand.is_active)
    )
    if currency:
        statement = statement.where(Brand.currencies.contains(currency, autoescape=True))
    return statement


def browse(
    session: Session,
    partner: Partner,
    *,
    currency: str | None = None,
    query: str = "",
    category: str = "",
    sort: str = "name",
    page: int = 1,
    per_page: int = 24,
) -> CatalogPage:
    statement = _visible(partner, currency)
    query = (query or "").strip()[:80]
    if query:
        needle = query.lower()  # matched literally: autoescape makes a typed % or _ a character, not a wildcard
        statement = statement.where(
            or_(*(func.lower(column).contains(needle, autoescape=True) for column in (Brand.name, Brand.category, Brand.description)))
        )
    if category:
        statement = statement.where(Brand.category == category)
    order = {
        "bonus": (PartnerBrand.bonus_percent.desc(), Brand.name),
        "category": (Brand.category, Brand.name),
    }.get(sort, (Brand.name,))
    page = max(1, page)
    # The page's rows and the total in one query: COUNT(*) OVER () counts every match before LIMIT.
    rows = session.exec(
        statement.add_columns(func.count().over().label("total")).order_by(*order).offset((page - 1) * per_page).limit(per_page)
    ).all()
    if rows:
        total = rows[0][2]
    elif page == 1:
        total = 0
    else:  # past the last page: no row to read the total from
        total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    now = utcnow()
    return CatalogPage([Offer(brand, settings, now) for brand, settings, _total in rows], total, page, per_page)


def categories(session: Session, partner: Partner, *, currency: str | None = None) -> list[str]:
    statement = _visible(partner, currency).with_only_columns(Brand.category).distinct().order_by(Brand.category)
    return [category for (category,) in session.exec(statement).all()]


# Built once (composing it cost more than running it): the brand page, its quotes and every checkout look one up.
_VISIBLE_BY_SLUG = (
    select(Brand, PartnerBrand)
    .join(PartnerBrand, PartnerBrand.brand_id == Brand.id)
    .where(PartnerBrand.partner_id == bindparam("partner_id"), PartnerBrand.enabled, Brand.is_active, Brand.slug == bindparam("brand_slug"))
)


def offer(session: Session, partner: Partner, brand_slug: str) -> Offer:
    row = session.exec(_VISIBLE_BY_SLUG, params={"partner_id": partner.id, "brand_slug": brand_slug}).first()
    if row is None:
        raise NotFound("This gift card is not available in this store.")
    return Offer(row[0], row[1], utcnow())


@event.listens_for(Session, "after_flush")
def _bump_catalog_versions(session: Session, _flush_context) -> None:
    """A change to a brand, or to a partner's settings for one, moves the partner's catalog_version on, in
    the same transaction: stores cache their rendered catalog under that version (app/web/catalog_cache.py),
    so the next request in any process sees the change. A brand is global: every partner's version moves."""
    changed = [item for item in (*session.new, *session.dirty, *session.deleted) if isinstance(item, (Brand, PartnerBrand))]
    if not changed:
        return
    partners = Partner.__table__
    statement = partners.update().values(catalog_version=partners.c.catalog_version + 1)
    if not any(isinstance(item, Brand) for item in changed):
        statement = statement.where(partners.c.id.in_({item.partner_id for item in changed}))
    # Core on the flush's own connection: an ORM statement here would try to flush again.
    session.connection().execute(statement)


def make_available(session: Session, *, partner: Partner, brand: Brand, **settings) -> PartnerBrand:
    """Offer a brand to a partner (the platform team's step), with optional price and bonus settings."""
    with write_transaction(session):
        existing = session.exec(
            select(PartnerBrand).where(PartnerBrand.partner_id == partner.id, PartnerBrand.brand_id == brand.id)
        ).first()
        partner_brand = existing or PartnerBrand(partner_id=partner.id, brand_id=brand.id)
        for key, value in settings.items():
            setattr(partner_brand, key, value)
        partner_brand.updated_at = utcnow()
        session.add(partner_brand)
    return partner_brand


PERCENT_PLACES = 2  # PartnerBrand stores percents with two decimals


@dataclass(frozen=True)
class BrandSettings:
    """A partner's price and bonus for one brand, as its admin chose them (parsed, not yet checked)."""

    enabled: bool
    discount_percent: Decimal = Decimal(0)
    fee: int = 0  # minor units
    bonus_type: BonusType = BonusType.NONE
    bonus_percent: Decimal = Decimal(0)
    promo_starts_at: datetime | None = None
    promo_ends_at: datetime | None = None


def _check_percent(value: Decimal, *, field: str, label: str) -> None:
    if not value.is_finite():
        raise InvalidInput(f"The {label} must be a number.", field=field)
    if value.as_tuple().exponent < -PERCENT_PLACES:
        raise InvalidInput(f"The {label} can have at most {PERCENT_PLACES} decimals.", field=field)
    if not Decimal(0) <= value <= Decimal(100):
        raise InvalidInput(f"The {label} must be from 0 to 100 %.", field=field)


def check_brand_settings(settings: BrandSettings) -> None:
    """The rules of a price and bonus, each with a message an admin can act on."""
    _check_percent(settings.discount_percent, field="discount_percent", label="discount")
    if settings.discount_percent == 100:
        raise InvalidInput("A discount must be below 100 %: the card can't be free.", field="discount_percent")
    if settings.fee < 0:
        raise InvalidInput("The fee can't be negative.", field="fee")
    if settings.discount_percent and settings.fee:
        raise InvalidInput("Choose a discount or a fee, not both.", field="fee")
    _check_percent(settings.bonus_percent, field="bonus_percent", label="bonus")
    if settings.bonus_type is not BonusType.NONE and not settings.bonus_percent:
        raise InvalidInput("Enter a bonus percent above 0, or choose no bonus.", field="bonus_percent")
    starts, ends = settings.promo_starts_at, settings.promo_ends_at
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidInput("The promotion must end after it starts.", field="promo_ends_at")


def update_brand_settings(session: Session, *, partner: Partner, brand: Brand, settings: BrandSettings) -> PartnerBrand:
    """Save a partner's price and bonus for a brand; its store shows them at the next request."""
    check_brand_settings(settings)
    if settings.fee and len(partner.currency_list) > 1:
        # A fee is stored as one amount in minor units: it would mean ¥300 in one currency and $3.00 in another.
        raise InvalidInput(
            f"A fee is one amount in one currency, and your program has several ({', '.join(partner.currency_list)}): "
            "use a discount instead.",
            field="fee",
        )
    if settings.bonus_type is BonusType.NONE:
        settings = replace(settings, bonus_percent=Decimal(0), promo_starts_at=None, promo_ends_at=None)
    return make_available(session, partner=partner, brand=brand, **(asdict(settings) | {"bonus_type": settings.bonus_type.value}))
