"""The catalog as one partner's consumers see it: enabled brands with price and bonus."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from sqlalchemy import func, or_
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


def _visible(partner: Partner, currency: str | None):
    statement = (
        select(Brand, PartnerBrand)
        .join(PartnerBrand, PartnerBrand.brand_id == Brand.id)
        .where(PartnerBrand.partner_id == partner.id, PartnerBrand.enabled, Brand.is_active)
    )
    if currency:
        statement = statement.where(Brand.currencies.contains(currency))
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
        pattern = f"%{query.lower()}%"
        statement = statement.where(
            or_(func.lower(Brand.name).like(pattern), func.lower(Brand.category).like(pattern), func.lower(Brand.description).like(pattern))
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


def offer(session: Session, partner: Partner, brand_slug: str) -> Offer:
    row = session.exec(_visible(partner, None).where(Brand.slug == brand_slug)).first()
    if row is None:
        raise NotFound("This gift card is not available in this store.")
    return Offer(row[0], row[1], utcnow())


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
