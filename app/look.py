"""How a store and its emails look: a partner's branding worn as colours (CSS custom properties), a
stylesheet and a logo URL. The published look, or a draft's in the portal's preview.

Presentation only: the branding's rules are app/domain/branding.py's, its versions app/services/branding.py's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from flask import Response, current_app, request, url_for

from app.domain.branding import DEFAULT_COLORS, FIELDS, checked_color
from app.domain.colors import best_text_color, muted_text_color
from app.links import external_url
from app.models import BrandingVersion, Partner


@dataclass(frozen=True)
class Look:
    """What a store and its emails wear: the published branding, or a draft in the portal's preview.

    `partner` carries the names and colours (for a draft, a detached copy wearing the draft);
    the URLs say where the stylesheet and the logo come from.
    """

    partner: Partner
    stylesheet_url: str
    logo_url: str | None

    @cached_property
    def colors(self) -> dict[str, str]:
        """The partner's colours, each a checked '#rrggbb' (a stored value that isn't one gives way to the default)."""
        return {name: checked_color(getattr(self.partner, name), default) for name, default in DEFAULT_COLORS.items()}

    @cached_property
    def css_variables(self) -> dict[str, str]:
        """The --brand-* custom properties of static/app.css."""
        return {
            "brand-primary": self.colors["primary_color"],
            "brand-accent": self.colors["accent_color"],
            "brand-background": self.colors["background_color"],
            "brand-on-primary": self.text_on_primary,
            "brand-on-background": self.text_on_background,
            "brand-muted-on-background": self.muted_on_background,
        }

    @cached_property
    def text_on_primary(self) -> str:
        return best_text_color(self.colors["primary_color"])

    @cached_property
    def text_on_background(self) -> str:
        return best_text_color(self.colors["background_color"])

    @cached_property
    def muted_on_background(self) -> str:
        return muted_text_color(self.colors["background_color"])


def published_look(partner: Partner, *, absolute: bool = False) -> Look:
    """The look the store and emails wear now. `absolute` builds URLs from BASE_URL (for emails)."""
    version = partner.branding_version_id
    with_logo = bool(partner.has_logo and version)
    if absolute:
        logo = external_url("store.logo", slug=partner.slug, version_id=version) if with_logo else None
        return Look(partner, external_url("store.brand_css", slug=partner.slug, v=version or 0), logo)
    return Look(partner, *_store_look_urls(partner.slug, version or 0, with_logo, request.script_root))


@lru_cache(maxsize=1024)
def _store_look_urls(slug: str, version: int, with_logo: bool, _script_root: str) -> tuple[str, str | None]:
    """The stylesheet's and logo's URLs of one published version: the same every time (every store page asks)."""
    logo = url_for("store.logo", slug=slug, version_id=version) if with_logo else None
    return url_for("store.brand_css", slug=slug, v=version), logo


def dressed(partner: Partner, version: BrandingVersion) -> Partner:
    """A detached copy of `partner` wearing `version`'s branding, to render a preview. Never saved."""
    copy = Partner(**partner.model_dump())
    for name in FIELDS:
        setattr(copy, name, getattr(version, name))
    copy.has_logo = version.logo_width is not None
    copy.branding_version_id = version.id
    return copy


def brand_stylesheet(look: Look) -> Response:
    """A look's colours as CSS custom properties (no inline styles needed), with an ETag of its content."""
    # Straight from the template: the store's context processors (the consumer, their wallets) have no part in it.
    body = current_app.jinja_env.get_template("store/brand.css").render(look=look)
    response = current_app.response_class(body, mimetype="text/css")
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    return response
