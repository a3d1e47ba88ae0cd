"""What every HTML edge (the store, the portal, the dev outbox) shares: money as people read it, the
partial-or-page decision, the content security policies, where a `next` link may lead, and how an
error message becomes a sentence."""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote, urlsplit

from flask import g, request

# One implementation each, in the domain (format_money keeps its cache there); the edges import them from here too.
from app.domain.errors import sentence
from app.domain.money import format_money

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "EMAIL_DOCUMENT_POLICY",
    "format_money",
    "safe_next",
    "sentence",
    "wants_partial",
]


# No inline script or style anywhere: pages take their look from stylesheets (the partner's colours from
# a per-partner one), htmx's own indicator <style> is turned off in base.html. Frames only from this site
# (the portal's branding preview). A view may send its own, stricter or looser, policy instead.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'self'",
    ]
)
# An email shown in a frame on this site: inline styles are how emails are written; nothing else runs.
EMAIL_DOCUMENT_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "frame-ancestors 'self'",
        "form-action 'none'",
        "base-uri 'none'",
    ]
)


def wants_partial() -> bool:
    """Whether to answer with a partial rather than the whole page.

    Only for htmx's own requests (hx-get and friends): a boosted link or form swaps the whole
    body, and a history restore after a cache miss needs the whole page too. Views that serve
    both from one URL must also send `Vary: HX-Request`.
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def safe_next(target: str | None, *, inside: str, home: str) -> str:
    """`target` if it is a path inside `inside` (e.g. "/portal/", "/s/acme/"), else `home`: never an open redirect.

    The path is normalised first: '/s/x/%2e%2e/..' must not climb out either.
    """
    if not target:
        return home
    parts = urlsplit(target)
    path = posixpath.normpath(unquote(parts.path))
    if parts.scheme or parts.netloc or "\\" in target or not (path + "/").startswith(inside):
        return home
    return quote(path) + (f"?{parts.query}" if parts.query else "")


def holds_card_codes() -> None:
    """This response shows a card number or PIN: it is sent uncompressed. A compressed page that holds a secret
    next to text an attacker can choose leaks the secret through its size (BREACH); cards are bearer value."""
    g.holds_card_codes = True
