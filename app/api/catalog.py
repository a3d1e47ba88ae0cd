"""The catalog through the partner API: GET /catalog lists the brands the partner's customers can
buy, with the partner's price adjustment and bonus (app/services/catalog.py decides which)."""

from __future__ import annotations

from decimal import Decimal

from flask import g, request

from app.api import bp, schemas
from app.api.auth import signed
from app.api.responses import iso_utc, money_number, success
from app.db import db_session
from app.domain.errors import InvalidInput
from app.domain.money import Money, normalize_currency
from app.domain.pricing import BonusType
from app.services import catalog
from app.services.catalog import Offer

PERCENT = Decimal("0.01")


def brand_data(offer: Offer, sold_in: list[str]) -> dict:
    """The CatalogBrand schema for one offer; amounts only in the currencies of `sold_in` (the one the caller
    chose, or the partner's): a card in any other can't be ordered."""
    brand, settings = offer.brand, offer.settings
    currencies = [code for code in brand.currency_list if code in sold_in]
    fixed = bool(brand.denomination_list)
    amounts = [
        schemas.BrandAmounts(
            currency=code,
            denominations=[money_number(Money(d, code)) for d in brand.denomination_list] if fixed else None,
            minAmount=None if fixed else money_number(Money(brand.min_amount or 0, code)),
            maxAmount=None if fixed else money_number(Money(brand.max_amount or 0, code)),
            fee=money_number(Money(settings.fee, code)),
        )
        for code in currencies
    ]
    percent = Decimal(settings.bonus_percent).quantize(PERCENT)
    bonus = None
    if settings.bonus_type in (BonusType.VALUE.value, BonusType.CASH.value) and percent > 0:
        bonus = schemas.Bonus(
            type=settings.bonus_type,
            percent=percent,
            promoStartsAt=iso_utc(settings.promo_starts_at),
            promoEndsAt=iso_utc(settings.promo_ends_at),
            activeNow=offer.bonus_active,
            segment=settings.bonus_segment or None,
        )
    return schemas.CatalogBrand(
        slug=brand.slug,
        name=brand.name,
        category=brand.category,
        description=brand.description,
        currencies=brand.currency_list,
        denominationType="fixed" if fixed else "variable",
        amounts=amounts,
        discountPercent=Decimal(settings.discount_percent).quantize(PERCENT),
        bonus=bonus,
        hasPin=brand.has_pin,
    ).model_dump()


@bp.get("/catalog")
@signed
def list_catalog():
    query = schemas.validate(schemas.CatalogQuery, request.args.to_dict())
    partner = g.api_partner
    currency = normalize_currency(query.currency) if query.currency is not None else None
    if currency is not None and currency not in partner.currency_list:
        raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")
    found = catalog.browse(
        db_session(), partner, currency=currency, category=query.category or "", page=query.page, per_page=query.perPage
    )
    sold_in = [currency] if currency else partner.currency_list
    return success(schemas.CatalogPage.shown(found, [brand_data(offer, sold_in) for offer in found.offers]))
