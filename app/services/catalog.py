"""The catalog as one partner's consumers see it: enabled brands with price and bonus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Protocol, cast

from sqlalchemy import and_, bindparam, case, event, false, func, or_, true
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput, NotFound, sentence
from app.domain.money import Money, format_money
from app.domain.paging import Page, within_pages
from app.domain.pricing import BonusType, PriceRule, Quote, quote
from app.domain.segments import bonus_applies, optional_tag
from app.models import Brand, Partner, PartnerBrand, TeamMember
from app.services import audit
from app.services.rows import row_id, table_of

SORTS = {"name": "Name", "bonus": "Biggest bonus", "category": "Category"}


@dataclass(frozen=True)
class Offer:
    """A brand in one partner's store, with that partner's price rule, as one consumer sees it: `tags` are the
    consumer's (None: nobody's, e.g. the API's catalog or a preview), and a bonus for a segment applies only
    to a consumer with its tag (`bonus_applies`: the one place a quote, a badge or a checkout asks)."""

    brand: Brand
    settings: PartnerBrand
    now: datetime
    tags: frozenset[str] | None = None

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
        """Inside the bonus's promo window (whoever it is for)."""
        starts, ends = self.settings.promo_starts_at, self.settings.promo_ends_at
        return (starts is None or starts <= self.now) and (ends is None or self.now < ends)

    @property
    def bonus_segment(self) -> str:
        return self.settings.bonus_segment or ""

    @property
    def bonus_applies(self) -> bool:
        """The bonus counts for this consumer now: inside its window, and for everyone or for one of their tags."""
        return self.bonus_active and bonus_applies(self.bonus_segment, self.tags)

    def for_tags(self, tags: frozenset[str] | None) -> Offer:
        """The same offer as a consumer with `tags` sees it."""
        return replace(self, tags=tags)

    @cached_property  # the tile asks twice; `now` is fixed, so the answer is too
    def bonus_badge(self) -> str | None:
        percent = Decimal(self.settings.bonus_percent).normalize()
        if not self.bonus_applies or not percent:
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
            return f"Enter an amount from {format_money(low)} to {format_money(high)}."  # as |money shows them
        return None

    def quote(self, amount: Money) -> Quote:
        problem = self.amount_problem(amount)
        if problem:
            raise InvalidInput(problem, field="amount")
        return quote(amount, self.rule, bonus_active=self.bonus_applies)


@dataclass(frozen=True)
class CatalogPage(Page[Offer]):
    """A page of the store's catalog: its offers are its rows."""

    @property
    def offers(self) -> Sequence[Offer]:
        return self.rows

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
        .join(PartnerBrand, col(PartnerBrand.brand_id) == Brand.id)
        .where(PartnerBrand.partner_id == partner.id, PartnerBrand.enabled, Brand.is_active)
    )
    # Only brands sold in the chosen currency, or else in one of the partner's: any other can't be bought here.
    sold_in = [currency] if currency else partner.currency_list
    sold = [col(Brand.currencies).contains(code, autoescape=True) for code in sold_in]
    return statement.where(or_(*sold) if sold else false())


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
    paid_by: Sequence[BrandScope] | None = None,
    tags: frozenset[str] | None = None,
) -> CatalogPage:
    """A page of the partner's catalog. `paid_by` (campaign balances): only the brands one of them pays for.
    `tags`: the consumer's (Offer.tags), so only the bonuses for them show and "Biggest bonus" sorts by those."""
    statement = _visible(partner, currency)
    if paid_by is not None:
        statement = statement.where(_paid_by(paid_by))
    query = (query or "").strip()[:80]
    if query:
        needle = query.lower()  # matched literally: autoescape makes a typed % or _ a character, not a wildcard
        statement = statement.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Brand.name, Brand.category, Brand.description)
                )
            )
        )
    if category:
        statement = statement.where(Brand.category == category)
    # A bonus for a segment the consumer isn't in counts as none (it would show them where it went).
    for_them = or_(col(PartnerBrand.bonus_segment) == "", col(PartnerBrand.bonus_segment).in_(sorted(tags or ())))
    order = {
        "bonus": (case((for_them, PartnerBrand.bonus_percent), else_=0).desc(), Brand.name),
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
    return CatalogPage([Offer(brand, settings, now, tags) for brand, settings, _total in rows], total, page, per_page)


class BrandScope(Protocol):
    """Which brands something pays for (a campaign balance): both lists empty = every brand."""

    brand_slugs: Sequence[str]
    categories: Sequence[str]


def _paid_by(scopes: Sequence[BrandScope]):
    """The brands at least one of `scopes` pays for (app.domain.campaigns.allows_brand, in SQL)."""
    if any(not scope.brand_slugs and not scope.categories for scope in scopes):
        return true()
    slugs = sorted({slug for scope in scopes for slug in scope.brand_slugs})
    categories = sorted({category.casefold() for scope in scopes for category in scope.categories})
    return or_(col(Brand.slug).in_(slugs), func.lower(Brand.category).in_(categories)) if slugs or categories else false()


def categories(session: Session, partner: Partner, *, currency: str | None = None) -> list[str]:
    statement = _visible(partner, currency).with_only_columns(Brand.category).distinct().order_by(Brand.category)
    return [category for (category,) in session.exec(statement).all()]


# Built once (composing it cost more than running it): the brand page, its quotes and every checkout look one up.
_VISIBLE_BY_SLUG = (
    select(Brand, PartnerBrand)
    .join(PartnerBrand, col(PartnerBrand.brand_id) == Brand.id)
    .where(
        PartnerBrand.partner_id == bindparam("partner_id"),
        PartnerBrand.enabled,
        Brand.is_active,
        Brand.slug == bindparam("brand_slug"),
    )
)


def offer(session: Session, partner: Partner, brand_slug: str, *, tags: frozenset[str] | None = None) -> Offer:
    """The brand in the partner's store, as a consumer with `tags` sees it (None: only bonuses for everyone)."""
    row = session.exec(_VISIBLE_BY_SLUG, params={"partner_id": partner.id, "brand_slug": brand_slug}).first()
    if row is None:
        raise NotFound("This gift card is not available in this store.")
    return Offer(row[0], row[1], utcnow(), tags)


def bonus_segments(session: Session, partner: Partner) -> frozenset[str]:
    """The tags the partner's bonuses are for (the store keys its cached catalog by the ones a consumer has)."""
    return frozenset(
        session.exec(
            select(PartnerBrand.bonus_segment)
            .where(PartnerBrand.partner_id == partner.id, PartnerBrand.bonus_segment != "", PartnerBrand.bonus_type != "none")
            .distinct()
        ).all()
    )


@event.listens_for(Session, "after_flush")
def _bump_catalog_versions(session: Session, _flush_context) -> None:
    """A change to a brand, or to a partner's settings for one, moves the partner's catalog_version on, in
    the same transaction: stores cache their rendered catalog under that version (app/web/catalog_cache.py),
    so the next request in any process sees the change. A brand is global: every partner's version moves."""
    changed = [item for item in (*session.new, *session.dirty, *session.deleted) if isinstance(item, (Brand, PartnerBrand))]
    if not changed:
        return
    partners = table_of(Partner)
    statement = partners.update().values(catalog_version=partners.c.catalog_version + 1)
    if not any(isinstance(item, Brand) for item in changed):
        statement = statement.where(partners.c.id.in_({item.partner_id for item in changed if isinstance(item, PartnerBrand)}))
    # Core on the flush's own connection: an ORM statement here would try to flush again.
    session.connection().execute(statement)


def make_available(session: Session, *, partner: Partner, brand: Brand, **settings) -> PartnerBrand:
    """Offer a brand to a partner (the platform team's step), with optional price and bonus settings."""
    with write_transaction(session):
        existing = session.exec(
            select(PartnerBrand).where(PartnerBrand.partner_id == partner.id, PartnerBrand.brand_id == brand.id)
        ).first()
        partner_brand = existing or PartnerBrand(partner_id=row_id(partner), brand_id=row_id(brand))
        for key, value in settings.items():
            setattr(partner_brand, key, value)
        partner_brand.updated_at = utcnow()
        session.add(partner_brand)
    return partner_brand


def offer_whole_catalog(session: Session, *, partner: Partner) -> int:
    """Offer the partner every brand of the catalog it doesn't have yet, enabled with no price change or bonus
    (the portal's brand settings can then narrow it); how many were added."""
    with write_transaction(session):
        offered = set(session.exec(select(PartnerBrand.brand_id).where(PartnerBrand.partner_id == partner.id)).all())
        missing = [
            cast(int, brand_id)
            for brand_id in session.exec(select(Brand.id).order_by(col(Brand.id))).all()
            if brand_id not in offered
        ]
        now = utcnow()
        session.add_all(PartnerBrand(partner_id=row_id(partner), brand_id=brand_id, updated_at=now) for brand_id in missing)
    return len(missing)


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
    bonus_segment: str = ""  # a tag: only consumers with it get the bonus; "" = everyone


def _check_percent(value: Decimal, *, field: str, label: str) -> None:
    if not value.is_finite():
        raise InvalidInput(f"The {label} must be a number.", field=field)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number's (checked above)
    if exponent < -PERCENT_PLACES:
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
        settings = replace(settings, bonus_percent=Decimal(0), promo_starts_at=None, promo_ends_at=None, bonus_segment="")
    return make_available(session, partner=partner, brand=brand, **(asdict(settings) | {"bonus_type": settings.bonus_type.value}))


# --- the portal: the whole catalog with one partner's settings, and an admin's changes --------

DATE_FORMAT = "%Y-%m-%dT%H:%M"  # the form's <input type="datetime-local">, read as UTC


def fee_currency(partner: Partner) -> str:
    """A fee is one amount, in the program's first currency (a program with several can't have one)."""
    return partner.currency_list[0]


@dataclass(frozen=True)
class BrandLine:
    """A catalog brand with this partner's settings (None: never set up, so not offered), as the portal shows them."""

    brand: Brand
    settings: PartnerBrand | None
    currency: str  # of the fee

    @property
    def offered(self) -> bool:
        return self.settings is not None and self.settings.enabled

    @property
    def discount(self) -> str | None:
        percent = Decimal(self.settings.discount_percent).normalize() if self.settings else 0
        return f"{percent:f}" if percent else None

    @property
    def fee(self) -> Money | None:
        return Money(self.settings.fee, self.currency) if self.settings and self.settings.fee else None

    @property
    def denominations(self) -> list[Money]:
        return [Money(amount, self._card_currency) for amount in self.brand.denomination_list]

    @property
    def amount_range(self) -> tuple[Money, Money] | None:
        if self.brand.min_amount is None or self.brand.max_amount is None:
            return None
        return Money(self.brand.min_amount, self._card_currency), Money(self.brand.max_amount, self._card_currency)

    @property
    def _card_currency(self) -> str:
        return (self.brand.currency_list or [self.currency])[0]

    @property
    def bonus(self) -> str | None:
        if self.settings is None or self.settings.bonus_type == BonusType.NONE:
            return None
        percent = f"{Decimal(self.settings.bonus_percent).normalize():f}"
        shown = f"+{percent} % value" if self.settings.bonus_type == BonusType.VALUE else f"{percent} % back"
        return f"{shown}, tag {self.settings.bonus_segment} only" if self.settings.bonus_segment else shown


def _with_settings(partner: Partner):
    """Every active brand with this partner's settings (None where it has none)."""
    return (
        select(Brand, PartnerBrand)
        .join(
            PartnerBrand, and_(col(PartnerBrand.brand_id) == Brand.id, col(PartnerBrand.partner_id) == partner.id), isouter=True
        )
        .where(Brand.is_active)
    )


def brand_list(
    session: Session,
    *,
    partner: Partner,
    query: str = "",
    category: str = "",
    offered: bool | None = None,
    page: int = 1,
    size: int = 25,
) -> Page[BrandLine]:
    """One page of the whole catalog by name, with the partner's settings; `query` matches name or category."""
    statement = _with_settings(partner)
    if query:
        needle = query.lower()
        statement = statement.where(
            or_(
                func.lower(Brand.name).contains(needle, autoescape=True),
                func.lower(Brand.category).contains(needle, autoescape=True),
            )
        )
    if category:
        statement = statement.where(Brand.category == category)
    if offered is True:
        statement = statement.where(col(PartnerBrand.enabled).is_(True))
    elif offered is False:
        statement = statement.where(or_(col(PartnerBrand.id).is_(None), col(PartnerBrand.enabled).is_(False)))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    page = within_pages(page, total=total, size=size)
    rows = session.exec(statement.order_by(Brand.name).offset((page - 1) * size).limit(size)).all()
    currency = fee_currency(partner)
    return Page([BrandLine(brand, settings, currency) for brand, settings in rows], total, page, size)


def catalog_categories(session: Session) -> list[str]:
    """The categories of every active brand in the catalog (offered by the partner or not)."""
    return list(session.exec(select(Brand.category).where(Brand.is_active).distinct().order_by(Brand.category)).all())


def brand_line(session: Session, *, partner: Partner, brand_id: int) -> BrandLine:
    row = session.exec(_with_settings(partner).where(Brand.id == brand_id)).first()
    if row is None:
        raise NotFound("There is no such brand in the catalog.")
    return BrandLine(row[0], row[1], fee_currency(partner))


@dataclass(frozen=True)
class BrandForm:
    """A brand's price and bonus as its admin typed them in the portal's form (or as the saved settings fill it)."""

    enabled: str = "no"  # yes | no
    discount_percent: str = "0"
    fee: str = "0"  # major units, in fee_currency
    bonus_type: str = "none"
    bonus_percent: str = "0"
    promo_starts_at: str = ""  # DATE_FORMAT, UTC
    promo_ends_at: str = ""
    bonus_segment: str = ""  # a tag, or blank for everyone

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in fields(cls)]

    @classmethod
    def of(cls, settings: PartnerBrand | None, currency: str) -> BrandForm:
        if settings is None:
            return cls()
        moment = lambda value: value.astimezone(UTC).strftime(DATE_FORMAT) if value else ""  # noqa: E731
        return cls(
            enabled="yes" if settings.enabled else "no",
            discount_percent=f"{Decimal(settings.discount_percent).normalize():f}",
            fee=f"{Money(settings.fee, currency).to_decimal()}",
            bonus_type=settings.bonus_type,
            bonus_percent=f"{Decimal(settings.bonus_percent).normalize():f}",
            promo_starts_at=moment(settings.promo_starts_at),
            promo_ends_at=moment(settings.promo_ends_at),
            bonus_segment=settings.bonus_segment or "",
        )

    def settings(self, currency: str) -> BrandSettings:
        """The settings typed, parsed (not yet checked: check_brand_settings does that)."""
        if self.bonus_type not in {kind.value for kind in BonusType}:
            raise InvalidInput("Choose a bonus: none, value or cash back.", field="bonus_type")
        try:
            fee = Money.parse(self.fee or "0", currency, field="fee").amount
        except InvalidInput as error:
            raise InvalidInput(sentence(error.message), field="fee") from None
        return BrandSettings(
            enabled=self.enabled == "yes",
            discount_percent=_typed_percent(self.discount_percent, field="discount_percent", label="discount"),
            fee=fee,
            bonus_type=BonusType(self.bonus_type),
            bonus_percent=_typed_percent(self.bonus_percent, field="bonus_percent", label="bonus"),
            promo_starts_at=_typed_moment(self.promo_starts_at, field="promo_starts_at", label="promotion start"),
            promo_ends_at=_typed_moment(self.promo_ends_at, field="promo_ends_at", label="promotion end"),
            bonus_segment=optional_tag(self.bonus_segment, field="bonus_segment") or "",
        )


def _typed_percent(text: str, *, field: str, label: str) -> Decimal:
    text = text.strip().rstrip("%").strip() or "0"
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"The {label} must be a number, like 5 or 2.5.", field=field) from None


def _typed_moment(text: str, *, field: str, label: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"The {label} must be a date and time, like 2026-06-01T09:00.", field=field) from None


def change_brand_settings(session: Session, *, partner: Partner, brand: Brand, form: BrandForm, by: TeamMember) -> bool:
    """An admin saves a brand's price and bonus from the form; audited with what changed. False: nothing did."""
    currency = fee_currency(partner)
    settings = form.settings(currency)
    with write_transaction(session):
        before = asdict(BrandForm.of(_settings_of(session, partner, brand), currency))
        after = asdict(BrandForm.of(update_brand_settings(session, partner=partner, brand=brand, settings=settings), currency))
        changed = {key: {"from": before[key], "to": after[key]} for key in before if before[key] != after[key]}
        if changed:
            audit.record(
                session,
                partner_id=row_id(partner),
                member=by,
                action="brand.update",
                subject_type="brand",
                subject_id=row_id(brand),
                summary=f"{brand.name}: " + ", ".join(f"{key} {value['from']} → {value['to']}" for key, value in changed.items()),
                details=changed,
            )
    return bool(changed)


def offer_brand(session: Session, *, partner: Partner, brand: Brand, offered: bool, by: TeamMember) -> BrandLine:
    """An admin offers a brand in the store, or stops offering it; audited when that changes anything."""
    settings = _settings_of(session, partner, brand)
    if settings is None or settings.enabled != offered:
        with write_transaction(session):
            settings = make_available(session, partner=partner, brand=brand, enabled=offered)
            audit.record(
                session,
                partner_id=row_id(partner),
                member=by,
                action="brand.enable" if offered else "brand.disable",
                subject_type="brand",
                subject_id=row_id(brand),
                summary=f"{brand.name} {'offered' if offered else 'no longer offered'} in the store",
            )
    return BrandLine(brand, settings, fee_currency(partner))


def _settings_of(session: Session, partner: Partner, brand: Brand) -> PartnerBrand | None:
    return session.exec(
        select(PartnerBrand).where(PartnerBrand.partner_id == partner.id, PartnerBrand.brand_id == brand.id)
    ).first()
