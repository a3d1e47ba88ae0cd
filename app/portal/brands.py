"""Brands in the portal: the whole global catalog with this partner's settings (viewers look,
admins change). A brand the partner never set up is simply not offered in its store yet."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, make_response, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import InvalidInput
from app.domain.paging import page_number
from app.pages import wants_partial
from app.portal import current_member, current_partner, portal_route
from app.services import catalog, segments
from app.services.catalog import BrandForm, BrandLine

PAGE_SIZE = 25
ENABLED_FILTERS = {"yes": "Offered", "no": "Not offered"}
BONUS_TYPES = {"none": "No bonus", "value": "Value bonus (the card is worth more)", "cash": "Cash back (into the bonus balance)"}


@dataclass(frozen=True)
class BrandSearch:
    q: str = ""
    category: str = ""
    enabled: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> BrandSearch:
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


@portal_route("/brands", role="viewer")
def brands():
    """The catalog; only its results (#brand-rows) for the filters' htmx requests."""
    search = BrandSearch.from_args(request.args)
    found = catalog.brand_list(
        db_session(),
        partner=current_partner(),
        query=search.q,
        category=search.category,
        offered={"yes": True, "no": False}.get(search.enabled),
        page=search.page,
        size=PAGE_SIZE,
    )
    context = dict(lines=found, search=search, enabled_filters=ENABLED_FILTERS)
    if wants_partial():
        body = render_template("portal/brands/_rows.html", **context)
    else:
        body = render_template("portal/brands/index.html", categories=catalog.catalog_categories(db_session()), **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _line(brand_id: int) -> BrandLine:
    return catalog.brand_line(db_session(), partner=current_partner(), brand_id=brand_id)


# --- one brand ----------------------------------------------------------------------------


def _edit_page(line: BrandLine, form: BrandForm, *, error: str | None = None, field: str | None = None, status: int = 200):
    return render_template(
        "portal/brands/show.html",
        line=line,
        form=form,
        error=error,
        field=field,
        bonus_types=BONUS_TYPES,
        fee_currency=line.currency,
        segment_tags=segments.partner_tags(db_session(), current_partner().id),
    ), status


@portal_route("/brands/<int:brand_id>", role="viewer")
def brands_show(brand_id: int):
    line = _line(brand_id)
    return _edit_page(line, BrandForm.of(line.settings, line.currency))  # the form filled from the saved settings


@portal_route("/brands/<int:brand_id>", role="admin", methods=("POST",), endpoint="brands_update")
def brands_update(brand_id: int):
    line = _line(brand_id)
    brand = line.brand
    form = BrandForm(**{key: request.form.get(key, "").strip()[:40] for key in BrandForm.names()})
    try:
        changed = catalog.change_brand_settings(
            db_session(), partner=current_partner(), brand=brand, form=form, by=current_member()
        )
    except InvalidInput as error:
        return _edit_page(line, form, error=error.message, field=error.field, status=422)
    flash(f"{brand.name} is saved: the store shows it now." if changed else f"Nothing changed for {brand.name}.", "success")
    return redirect(url_for("portal.brands_show", brand_id=brand.id), 303)


def _set_enabled(brand_id: int, enabled: bool):
    """Offer a brand or stop offering it; htmx gets the row back in place."""
    brand = _line(brand_id).brand
    line = catalog.offer_brand(db_session(), partner=current_partner(), brand=brand, offered=enabled, by=current_member())
    if wants_partial():
        return render_template("portal/brands/_row.html", line=line)
    flash(f"{brand.name} is {'now offered' if enabled else 'no longer offered'} in the store.", "success")
    return redirect(url_for("portal.brands"), 303)


@portal_route("/brands/<int:brand_id>/enable", role="admin", methods=("POST",))
def brands_enable(brand_id: int):
    return _set_enabled(brand_id, True)


@portal_route("/brands/<int:brand_id>/disable", role="admin", methods=("POST",))
def brands_disable(brand_id: int):
    return _set_enabled(brand_id, False)
