"""Brands in the portal: the whole global catalog with this partner's settings (viewers look,
admins change). A brand the partner never set up is simply not offered in its store yet."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask import flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import and_, func, or_
from sqlmodel import select

from app.db import db_session, write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.money import Money
from app.domain.paging import page_number
from app.domain.pricing import BonusType
from app.models import Brand, PartnerBrand
from app.portal import audit, current_partner, portal_route
from app.services import catalog
from app.web import wants_partial

PAGE_SIZE = 25
ENABLED_FILTERS = {"yes": "Offered", "no": "Not offered"}
BONUS_TYPES = {"none": "No bonus", "value": "Value bonus (the card is worth more)", "cash": "Cash back (into the bonus balance)"}
DATE_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, read as UTC


@dataclass(frozen=True)
class BrandSearch:
    q: str = ""
    category: str = ""
    enabled: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "BrandSearch":
        enabled = args.get("enabled", "")
        return cls(
            q=args.get("q", "").strip()[:80],
            category=args.get("category", "").strip()[:60],
            enabled=enabled if enabled in ENABLED_FILTERS else "",
            page=page_number(args.get("page")),
        )

    def link_args(self, page: int) -> dict:
        args = {"q": self.q, "category": self.category, "enabled": self.enabled, "page": page if page > 1 else None}
        return {key: value for key, value in args.items() if value}


@dataclass(frozen=True)
class BrandLine:
    """A catalog brand with this partner's settings, as the portal shows them."""

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
        return f"+{percent} % value" if self.settings.bonus_type == BonusType.VALUE else f"{percent} % back"


def _line(brand: Brand, settings: PartnerBrand | None) -> BrandLine:
    return BrandLine(brand, settings, _fee_currency())


def _catalog(partner_id: int):
    """Every active brand with this partner's settings (None where it has none)."""
    return (
        select(Brand, PartnerBrand)
        .join(PartnerBrand, and_(PartnerBrand.brand_id == Brand.id, PartnerBrand.partner_id == partner_id), isouter=True)
        .where(Brand.is_active)
    )


def _search(search: BrandSearch):
    session = db_session()
    statement = _catalog(current_partner().id)
    if search.q:
        needle = search.q.lower()
        statement = statement.where(
            or_(func.lower(Brand.name).contains(needle, autoescape=True), func.lower(Brand.category).contains(needle, autoescape=True))
        )
    if search.category:
        statement = statement.where(Brand.category == search.category)
    if search.enabled == "yes":
        statement = statement.where(PartnerBrand.enabled.is_(True))
    elif search.enabled == "no":
        statement = statement.where(or_(PartnerBrand.id.is_(None), PartnerBrand.enabled.is_(False)))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(search.page, pages)
    rows = session.exec(statement.order_by(Brand.name).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return rows, total, page, pages


@portal_route("/brands", role="viewer")
def brands():
    """The catalog; only its results (#brand-rows) for the filters' htmx requests."""
    search = BrandSearch.from_args(request.args)
    rows, total, page, pages = _search(search)
    context = dict(lines=[_line(brand, settings) for brand, settings in rows], total=total, page=page, pages=pages, search=search, enabled_filters=ENABLED_FILTERS)
    if wants_partial():
        body = render_template("portal/brands/_rows.html", **context)
    else:
        categories = db_session().exec(select(Brand.category).where(Brand.is_active).distinct().order_by(Brand.category)).all()
        body = render_template("portal/brands/index.html", categories=categories, **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _brand(brand_id: int) -> tuple[Brand, PartnerBrand | None]:
    row = db_session().exec(_catalog(current_partner().id).where(Brand.id == brand_id)).first()
    if row is None:
        raise NotFound("There is no such brand in the catalog.")
    return row[0], row[1]


# --- one brand ----------------------------------------------------------------------------


def _percent(text: str, *, field: str, label: str) -> Decimal:
    text = text.strip().rstrip("%").strip() or "0"
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"The {label} must be a number, like 5 or 2.5.", field=field) from None


def _moment(text: str, *, field: str, label: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"The {label} must be a date and time, like 2026-06-01T09:00.", field=field) from None


def _fee_currency() -> str:
    return current_partner().currency_list[0]


def _parse_settings(form: dict) -> catalog.BrandSettings:
    if form["bonus_type"] not in BONUS_TYPES:
        raise InvalidInput("Choose a bonus: none, value or cash back.", field="bonus_type")
    return catalog.BrandSettings(
        enabled=form["enabled"] == "yes",
        discount_percent=_percent(form["discount_percent"], field="discount_percent", label="discount"),
        fee=Money.parse(form["fee"] or "0", _fee_currency(), field="fee").amount,
        bonus_type=BonusType(form["bonus_type"]),
        bonus_percent=_percent(form["bonus_percent"], field="bonus_percent", label="bonus"),
        promo_starts_at=_moment(form["promo_starts_at"], field="promo_starts_at", label="promotion start"),
        promo_ends_at=_moment(form["promo_ends_at"], field="promo_ends_at", label="promotion end"),
    )


def _form_of(settings: PartnerBrand | None) -> dict:
    """The edit form's fields, filled from the saved settings."""
    if settings is None:
        return {"enabled": "no", "discount_percent": "0", "fee": "0", "bonus_type": "none", "bonus_percent": "0",
                "promo_starts_at": "", "promo_ends_at": ""}
    moment = lambda value: value.astimezone(UTC).strftime(DATE_FORMAT) if value else ""  # noqa: E731
    return {
        "enabled": "yes" if settings.enabled else "no",
        "discount_percent": f"{Decimal(settings.discount_percent).normalize():f}",
        "fee": f"{Money(settings.fee, _fee_currency()).to_decimal()}",
        "bonus_type": settings.bonus_type,
        "bonus_percent": f"{Decimal(settings.bonus_percent).normalize():f}",
        "promo_starts_at": moment(settings.promo_starts_at),
        "promo_ends_at": moment(settings.promo_ends_at),
    }


def _edit_page(brand: Brand, settings: PartnerBrand | None, form: dict, *, error: str | None = None, field: str | None = None, status: int = 200):
    return render_template(
        "portal/brands/show.html", line=_line(brand, settings), form=form, error=error, field=field,
        bonus_types=BONUS_TYPES, fee_currency=_fee_currency(),
    ), status


@portal_route("/brands/<int:brand_id>", role="viewer")
def brands_show(brand_id: int):
    brand, settings = _brand(brand_id)
    return _edit_page(brand, settings, _form_of(settings))


@portal_route("/brands/<int:brand_id>", role="admin", methods=("POST",), endpoint="brands_update")
def brands_update(brand_id: int):
    brand, settings = _brand(brand_id)
    before = _form_of(settings)
    form = {key: request.form.get(key, "").strip()[:40] for key in before}
    session = db_session()
    try:
        parsed = _parse_settings(form)
        with write_transaction(session):
            saved = catalog.update_brand_settings(session, partner=current_partner(), brand=brand, settings=parsed)
            after = _form_of(saved)
            changed = {key: {"from": before[key], "to": after[key]} for key in before if before[key] != after[key]}
            if changed:
                audit(session, "brand.update", subject_type="brand", subject_id=brand.id,
                      summary=f"{brand.name}: " + ", ".join(f"{key} {value['from']} → {value['to']}" for key, value in changed.items()),
                      details=changed)
    except InvalidInput as error:
        message = error.message[:1].upper() + error.message[1:]
        return _edit_page(brand, settings, form, error=message, field=error.field, status=422)
    flash(f"{brand.name} is saved: the store shows it now." if changed else f"Nothing changed for {brand.name}.", "success")
    return redirect(url_for("portal.brands_show", brand_id=brand.id), 303)


def _set_enabled(brand_id: int, enabled: bool):
    """Offer a brand or stop offering it; htmx gets the row back in place."""
    brand, settings = _brand(brand_id)
    session = db_session()
    if settings is None or settings.enabled != enabled:
        with write_transaction(session):
            settings = catalog.make_available(session, partner=current_partner(), brand=brand, enabled=enabled)
            audit(session, "brand.enable" if enabled else "brand.disable", subject_type="brand", subject_id=brand.id,
                  summary=f"{brand.name} {'offered' if enabled else 'no longer offered'} in the store")
    if wants_partial():
        return render_template("portal/brands/_row.html", line=_line(brand, settings))
    flash(f"{brand.name} is {'now offered' if enabled else 'no longer offered'} in the store.", "success")
    return redirect(url_for("portal.brands"), 303)


@portal_route("/brands/<int:brand_id>/enable", role="admin", methods=("POST",))
def brands_enable(brand_id: int):
    return _set_enabled(brand_id, True)


@portal_route("/brands/<int:brand_id>/disable", role="admin", methods=("POST",))
def brands_disable(brand_id: int):
    return _set_enabled(brand_id, False)
