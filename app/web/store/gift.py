"""The recipient's gift page, /s/<slug>/gift/<token>: the link in every gift email. Public: the token is the key.

Never cached, never indexed, never sent on as a Referer; wrong tokens are rate-limited per IP (the
store's 404 counts, a gift that opens does not)."""

from __future__ import annotations

from flask import Response, current_app, g, render_template, request
from markupsafe import Markup

from app.db import db_session
from app.domain.gift_codes import code128_svg, qr_svg
from app.extensions import limiter
from app.pages import holds_card_codes
from app.services import gift_pages
from app.web.store import bp

PRIVATE_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",  # the token is in this page's URL: no link out may carry it
}


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_PAGE_HEADERS)
    return response


@bp.get("/gift/<token>")
@limiter.limit(
    lambda: current_app.config["GIFT_PAGE_RATE_LIMIT"],
    key_func=lambda: f"gift-page:{request.remote_addr}",
    deduct_when=lambda response: response.status_code == 404,
)
def gift_page(token: str):
    gift = gift_pages.open_gift_page(db_session(), partner=g.partner, token=token)
    holds_card_codes()
    # Markup: SVG made here from the card number (digits only), with no script and no style attribute.
    codes = {"barcode": Markup(code128_svg(gift.number)), "qr_code": Markup(qr_svg(gift.number))}
    return _private(Response(render_template("store/gift.html", gift=gift, **codes)))


@bp.after_request
def private_gift_pages(response: Response) -> Response:
    """A wrong token's answer (404) or 429 is no more cacheable or indexable than the page."""
    if request.endpoint == "store.gift_page":
        _private(response)
    return response
