"""The branding editor: the draft look, a live preview of the real store and emails, publishing, versions, terms.

Every edit saves the draft (htmx, as the admin types or picks a colour) and answers with the live
panel: contrast warnings and the preview frames with a new URL, so they reload with the draft
without the page reloading. The store and its emails keep the published look until Publish.
Anyone on the team may look; only admins change anything.
"""
from __future__ import annotations

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HttpNotFound, RequestEntityTooLarge

from app.db import db_session, write_transaction
from app.domain.errors import InvalidInput
from app.models import BrandingVersion
from app.portal import audit, bp, can, current_member, current_partner, load_member, portal_route
from app.services import branding
from app.services.partners import current_terms
from app.web import EMAIL_DOCUMENT_POLICY, wants_partial
from app.web.store import brand_stylesheet
from app.web.store_preview import EMAILS, PAGES, render_preview

ADMIN = "admin"
LOGO_REQUEST_LIMIT = branding.LOGO_MAX_BYTES + 64 * 1024  # the file and the form around it
TOO_BIG = "The logo file is bigger than 1 MB: choose a smaller image."


def _version_stamp(draft: BrandingVersion | None) -> int:
    """Changes with every save of the draft: a new URL for the preview frames, stylesheet and logo."""
    return int(draft.updated_at.timestamp() * 1000) if draft is not None else 0


def draft_look(partner, draft: BrandingVersion | None) -> branding.Look:
    """The look the preview shows: the draft's (served from the portal only), or the published one when there is no draft."""
    if draft is None:
        return branding.published_look(partner)
    stamp = _version_stamp(draft)
    logo = url_for("portal.branding_draft_logo", v=stamp) if draft.logo_width else None
    return branding.Look(branding.dressed(partner, draft), url_for("portal.branding_draft_css", v=stamp), logo)


def _preview_page() -> str:
    page = request.values.get("preview_page", request.args.get("page", "home"))
    return page if page in PAGES else "home"


def _context(
    *, error: str | None = None, field: str | None = None, submitted: dict | None = None,
    terms_error: str | None = None, terms_text: str | None = None, page: str | None = None,
) -> dict:
    session = db_session()
    partner = current_partner()
    draft = branding.current_draft(session, partner)
    shown = draft or branding.live_branding(session, partner)
    terms = current_terms(session, partner.id)
    return dict(
        draft=draft,
        # What the form shows: the draft, or what was sent when it was refused (a plain form post).
        values={name: getattr(shown, name) for name in branding.FIELDS} | (submitted or {}),
        colour_fields={"primary_color": "Primary colour", "accent_color": "Accent colour", "background_color": "Background colour"},
        look=draft_look(partner, draft),
        warnings=branding.contrast_warnings(shown),
        versions=branding.versions(session, partner),
        terms=terms,
        terms_text=terms.body if terms_text is None and terms else (terms_text or ""),
        terms_error=terms_error,
        page=page or _preview_page(),
        pages=PAGES,
        stamp=_version_stamp(draft),
        unpublished=draft is not None and not branding.same_as_published(session, partner, draft),
        error=error,
        field=field,
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
    fields = {name: request.form[name] for name in branding.FIELDS if name in request.form}
    session = db_session()
    try:
        with write_transaction(session):
            draft, changed = branding.update_draft(session, partner=current_partner(), member=current_member(), fields=fields)
            if changed:
                audit(session, "branding.draft", subject_type="branding_version", subject_id=draft.id,
                      summary=f"Draft version {draft.version}: {', '.join(changed)} changed", details=changed)
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
    data = upload.read(branding.LOGO_MAX_BYTES + 1) if upload else b""
    session = db_session()
    try:
        with write_transaction(session):
            draft = branding.upload_logo(session, partner=current_partner(), member=current_member(), data=data)
            audit(session, "branding.logo", subject_type="branding_version", subject_id=draft.id,
                  summary=f"Logo uploaded to draft version {draft.version} ({draft.logo_width}×{draft.logo_height})",
                  details={"filename": (upload.filename or "")[:200] if upload else "", "bytes": len(data)})
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    return _saved("Logo added to the draft.")


@portal_route("/branding/logo/remove", role=ADMIN, methods=("POST",))
def remove_branding_logo():
    session = db_session()
    with write_transaction(session):
        draft = branding.remove_logo(session, partner=current_partner(), member=current_member())
        audit(session, "branding.logo_removed", subject_type="branding_version", subject_id=draft.id,
              summary=f"Logo removed from draft version {draft.version}")
    return _saved("Logo removed from the draft.")


@portal_route("/branding/publish", role=ADMIN, methods=("POST",))
def publish_branding():
    session = db_session()
    partner = current_partner()
    try:
        with write_transaction(session):
            version = branding.publish(session, partner=partner, member=current_member())
            look = {name: getattr(version, name) for name in branding.FIELDS} | {"logo": version.logo_width is not None}
            warnings = [check.message for check in branding.contrast_warnings(version)]
            audit(session, "branding.publish", subject_type="branding_version", subject_id=version.id,
                  summary=f"Branding version {version.version} published", details=look | {"contrast_warnings": warnings})
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    flash(f"Version {version.version} is live in the store and its emails.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/versions/<int:version_id>/restore", role=ADMIN, methods=("POST",))
def restore_branding_version(version_id: int):
    session = db_session()
    try:
        with write_transaction(session):
            source = branding.version_of(session, partner=current_partner(), version_id=version_id)
            draft = branding.restore(session, partner=current_partner(), member=current_member(), version_id=version_id)
            audit(session, "branding.restore", subject_type="branding_version", subject_id=source.id,
                  summary=f"Version {source.version} copied into draft version {draft.version}")
    except InvalidInput as error:
        return _panel(422, error=error.message, field=error.field)
    flash(f"Version {source.version} is in the draft now. Publish it to put it live.", "success")
    return redirect(url_for("portal.branding"), 303)


@portal_route("/branding/terms", role=ADMIN, methods=("POST",))
def publish_terms():
    session = db_session()
    try:
        with write_transaction(session):
            terms = branding.publish_terms(session, partner=current_partner(), body=request.form.get("terms", ""))
            audit(session, "terms.publish", subject_type="terms_version", subject_id=terms.version,
                  summary=f"Terms of use version {terms.version} published")
    except InvalidInput as error:
        return _panel(422, terms_error=error.message, terms_text=request.form.get("terms", ""))
    flash(f"Terms version {terms.version} published: consumers accept it at their next visit.", "success")
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
