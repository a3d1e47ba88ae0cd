"""The branding editor: the draft look, a live preview of the real store and emails, publishing, versions, terms.

Every edit saves the draft (htmx, as the admin types or picks a colour) and answers with the live
panel: contrast warnings and the preview frames with a new URL, so they reload with the draft
without the page reloading. The store and its emails keep the published look until Publish.
Anyone on the team may look; only admins change anything.
"""

from __future__ import annotations

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HttpNotFound
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import db_session
from app.domain.branding import FIELDS
from app.domain.errors import InvalidInput
from app.domain.uploaded_logos import LOGO_MAX_BYTES
from app.look import Look, brand_stylesheet, dressed, published_look
from app.models import BrandingVersion
from app.pages import EMAIL_DOCUMENT_POLICY, wants_partial
from app.portal import bp, can, current_member, current_partner, load_member, portal_route
from app.portal.branding_preview import EMAILS, PAGES, render_preview
from app.services import branding, gift_pages

ADMIN = "admin"
LOGO_REQUEST_LIMIT = LOGO_MAX_BYTES + 64 * 1024  # the file and the form around it
TOO_BIG = "The logo file is bigger than 1 MB: choose a smaller image."


def _version_stamp(draft: BrandingVersion | None) -> int:
    """Changes with every save of the draft: a new URL for the preview frames, stylesheet and logo."""
    return int(draft.updated_at.timestamp() * 1000) if draft is not None else 0


def draft_look(partner, draft: BrandingVersion | None) -> Look:
    """The look the preview shows: the draft's (served from the portal only), or the published one when there is no draft."""
    if draft is None:
        return published_look(partner)
    stamp = _version_stamp(draft)
    logo = url_for("portal.branding_draft_logo", v=stamp) if draft.logo_width else None
    return Look(dressed(partner, draft), url_for("portal.branding_draft_css", v=stamp), logo)


def _preview_page() -> str:
    page = request.values.get("preview_page", request.args.get("page", "home"))
    return page if page in PAGES else "home"


def _context(
    *,
    error: str | None = None,
    field: str | None = None,
    submitted: dict | None = None,
    terms_error: str | None = None,
    terms_text: str | None = None,
    page: str | None = None,
    gift_email_error: str | None = None,
) -> dict:
    partner = current_partner()
    editor = branding.editor(db_session(), partner)
    draft, terms = editor.draft, editor.terms
    return dict(
        draft=draft,
        # What the form shows: the draft, or what was sent when it was refused (a plain form post).
        values={name: getattr(editor.shown, name) for name in FIELDS} | (submitted or {}),
        colour_fields={
            "primary_color": "Primary colour",
            "accent_color": "Accent colour",
            "background_color": "Background colour",
        },
        look=draft_look(partner, draft),
        warnings=editor.warnings,
        versions=editor.versions,
        terms=terms,
        terms_text=terms.body if terms_text is None and terms else (terms_text or ""),
        terms_error=terms_error,
        page=page or _preview_page(),
        pages=PAGES,
        stamp=_version_stamp(draft),
        unpublished=editor.unpublished,
        error=error,
        field=field,
        gift_email_link_only=partner.gift_email_link_only,
        gift_email_error=gift_email_error,
    )


def _panel(status: int = 200, **kwargs):
    """The live panel (htmx), with the versions list swapped out of band; or the whole page."""
    context = _context(**kwargs)
    if wants_partial():
        body = render_template("portal/branding/_live.html", **context)
        body += render_template("portal/branding/_versions.html", oob=True, **context)
        response = Response(body, status)
    else:
        response = Response(render_template("portal/branding/page.html", **context), status)
    response.vary.add("HX-Request")
    return response


def _saved(message: str):
    """After a change: the panel for htmx, or back to the page (303) for a plain form."""
    if wants_partial():
        return _panel()
    flash(message, "success")
    return redirect(url_for("portal.branding", page=_preview_page()), 303)


# The navigation knows the page as `portal.branding` (a view named so would hide the service module).
@portal_route("/branding", role="viewer", endpoint="branding")
def branding_editor():
    return _panel()


@portal_route("/branding/panel", role="viewer")
def branding_panel():
    return _panel()


@portal_route("/branding", role=ADMIN, methods=("POST",))
def save_branding_draft():
    fields = {name: request.form[name] for name in FIELDS if name in request.form}
    try:
        branding.update_draft(db_session(), partner=current_partner(), fields=fields, by=current_member())
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field, submitted=fields)
    return _saved("Draft saved. The store changes when you publish.")


@bp.url_value_preprocessor
def limit_logo_uploads(endpoint, _values):
    """Before anything reads the form (the CSRF check does, first): a logo upload reads at most this much."""
    if endpoint == "portal.upload_branding_logo":
        request.max_content_length = LOGO_REQUEST_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def logo_too_big(error):
    """An upload over the limit stops while the form is read, before the portal knows who is asking."""
    if request.endpoint != "portal.upload_branding_logo":
        return error
    if "member" not in g:
        load_member()
    if not can(ADMIN):
        return error
    # The form can't be read: the preview page comes from the query string, if at all.
    return _panel(422, error=TOO_BIG, field="logo", page=request.args.get("page", "home"))


@portal_route("/branding/logo", role=ADMIN, methods=("POST",))
def upload_branding_logo():
    upload = request.files.get("logo")
    data = upload.read(LOGO_MAX_BYTES + 1) if upload else b""
    try:
        branding.upload_logo(
            db_session(),
            partner=current_partner(),
            data=data,
            filename=(upload.filename or "") if upload else "",
            by=current_member(),
        )
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    return _saved("Logo added to the draft.")


@portal_route("/branding/logo/remove", role=ADMIN, methods=("POST",))
def remove_branding_logo():
    branding.remove_logo(db_session(), partner=current_partner(), by=current_member())
    return _saved("Logo removed from the draft.")


@portal_route("/branding/publish", role=ADMIN, methods=("POST",))
def publish_branding():
    try:
        version = branding.publish(
            db_session(),
            partner=current_partner(),
            by=current_member(),
            contrast_acknowledged=request.form.get("acknowledge_contrast") == "yes",
        )
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    flash(f"Version {version.version} is live in the store and its emails.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/versions/<int:version_id>/restore", role=ADMIN, methods=("POST",))
def restore_branding_version(version_id: int):
    try:
        source, _draft = branding.restore(db_session(), partner=current_partner(), version_id=version_id, by=current_member())
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    flash(f"Version {source.version} is in the draft now. Publish it to put it live.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/terms", role=ADMIN, methods=("POST",))
def publish_terms():
    try:
        terms = branding.publish_terms(
            db_session(), partner=current_partner(), body=request.form.get("terms", ""), by=current_member()
        )
    except InvalidInput as error:
        return _panel(422, terms_error=error.message, terms_text=request.form.get("terms", ""))
    flash(f"Terms version {terms.version} published: consumers accept it at their next visit.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/gift-emails", role=ADMIN, methods=("POST",))
def set_gift_email_contents():
    """What the store's gift emails carry: the card's number and PIN with the gift page link (the default), or the link alone."""
    try:
        changed = gift_pages.set_email_contents(
            db_session(), partner=current_partner(), contents=request.form.get("gift_email", ""), by=current_member()
        )
    except InvalidInput as error:
        return _panel(422, gift_email_error=error.message)
    if changed:
        flash("Saved: gift emails sent from now on follow the new setting.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/preview/<page>", role="viewer")
def branding_preview(page: str):
    """One store page or email wearing the draft, as a whole document for the preview frames."""
    if page not in PAGES:
        raise HttpNotFound()
    session = db_session()
    partner = current_partner()
    html = render_preview(session, look=draft_look(partner, branding.current_draft(session, partner)), page=page)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"
    if page in EMAILS:
        response.headers["Content-Security-Policy"] = EMAIL_DOCUMENT_POLICY
    return response


@portal_route("/branding/draft.css", role="viewer")
def branding_draft_css():
    session = db_session()
    partner = current_partner()
    response = brand_stylesheet(draft_look(partner, branding.current_draft(session, partner)))
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@portal_route("/branding/draft-logo.png", role="viewer")
def branding_draft_logo():
    draft = branding.current_draft(db_session(), current_partner())
    if draft is None or draft.logo_png is None:
        raise HttpNotFound()
    response = current_app.response_class(draft.logo_png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(f"draft-{draft.id}-{_version_stamp(draft)}")
    return response.make_conditional(request)
