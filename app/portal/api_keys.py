"""API keys (admins): create, rotate, revoke, and require v2 signatures (which cover the path and
query) or allow the seed's v1 again. A new key's credentials are on the answer to the
form that made it, and nowhere else: that page is never stored (no-store, no htmx history), and
the address bar shows the list's URL, so reloading or going back shows the list, not the secrets."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import InvalidInput
from app.models import ApiKey
from app.portal import current_member, current_partner, portal_route
from app.services import api_keys as api_key_service
from app.services.partners import ApiCredentials


def _at_the_list(status: int = 200, **headers) -> tuple[int, dict]:
    """Answers to the POSTs below: the address bar shows the list's URL (boosted forms push theirs)."""
    return status, {"HX-Push-Url": url_for("portal.api_keys"), **headers}


def _list(error: str | None = None, label: str = "", status: int = 200, require_v2: bool = False):
    listing = api_key_service.key_list(db_session(), current_partner())
    return render_template(
        "portal/api_keys/index.html",
        keys=listing.keys,
        creators=listing.creators,
        error=error,
        label=label,
        require_v2=require_v2,
    ), *_at_the_list(status)


def _issued(key: ApiKey, credentials: ApiCredentials, *, replaced: ApiKey | None = None):
    body = render_template("portal/api_keys/issued.html", key=key, credentials=credentials, replaced=replaced)
    return body, *_at_the_list(**{"Cache-Control": "no-store"})


@portal_route("/api-keys", role="admin")
def api_keys():
    return _list()


@portal_route("/api-keys", role="admin", methods=("POST",), endpoint="api_keys_create")
def api_keys_create():
    label = request.form.get("label", "")
    require_v2 = request.form.get("require_signature_v2") == "1"
    try:
        key, credentials = api_key_service.create(
            db_session(), partner=current_partner(), label=label, require_signature_v2=require_v2, by=current_member()
        )
    except InvalidInput as error:
        return _list(error.message, label[:200], 422, require_v2=require_v2)
    return _issued(key, credentials)


def _key(key_id: int) -> ApiKey:
    return api_key_service.partner_key(db_session(), partner=current_partner(), key_id=key_id)


@portal_route("/api-keys/<int:key_id>/rotate", role="admin", methods=("POST",))
def api_keys_rotate(key_id: int):
    old = _key(key_id)
    try:
        key, credentials = api_key_service.rotate(db_session(), partner=current_partner(), key=old, by=current_member())
    except InvalidInput as error:
        return _list(error.message, status=422)
    return _issued(key, credentials, replaced=old)


@portal_route("/api-keys/<int:key_id>/revoke", role="admin", methods=("POST",))
def api_keys_revoke(key_id: int):
    key = _key(key_id)
    try:
        api_key_service.revoke(db_session(), partner=current_partner(), key=key, by=current_member())
    except InvalidInput as error:
        return _list(error.message, status=422)
    flash(f"Key {key.prefix}… is revoked: requests signed with it are refused from now on.", "success")
    return redirect(url_for("portal.api_keys"), 303)


@portal_route("/api-keys/<int:key_id>/signature-version", role="admin", methods=("POST",))
def api_keys_signature_version(key_id: int):
    """require_signature_v2=1: the key accepts only v2 signatures; 0: v1 (the seed's) again too."""
    key = _key(key_id)
    required = request.form.get("require_signature_v2") == "1"
    try:
        api_key_service.set_require_signature_v2(
            db_session(), partner=current_partner(), key=key, required=required, by=current_member()
        )
    except InvalidInput as error:
        return _list(error.message, status=422)
    if required:
        flash(f"Key {key.prefix}… now accepts only v2 signatures: v1 requests signed with it are refused.", "success")
    else:
        flash(f"Key {key.prefix}… accepts v1 signatures again.", "success")
    return redirect(url_for("portal.api_keys"), 303)
