"""The store's look: the published branding's stylesheet (brand.css) and its logos, cached by browsers for good."""

from __future__ import annotations

from flask import current_app, g, request

from app.db import db_session
from app.look import brand_stylesheet, published_look
from app.services import branding
from app.web.store import bp

YEAR = 365 * 24 * 3600


@bp.get("/brand.css")
def brand_css():
    """The published look's stylesheet. Its URL carries the look's version (?v=), which every publish
    changes: that URL is cached for good; any other is revalidated by its ETag."""
    version = g.partner.branding_version_id
    response = brand_stylesheet(published_look(g.partner))
    if version is not None and request.args.get("v") == str(version):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "public, no-cache"
    return response.make_conditional(request)


@bp.get("/logo/<int:version_id>.png")
def logo(version_id: int):
    """A logo that has been live, re-encoded as PNG when uploaded. It never changes under its id."""
    version = branding.published_logo(db_session(), partner=g.partner, version_id=version_id)
    response = current_app.response_class(version.logo_png, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.set_etag(f"logo-{version.id}")
    return response.make_conditional(request)
