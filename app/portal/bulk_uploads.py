"""CSV bulk upload of consumers (operators): upload, a checked preview with progress, commit, error rows as CSV."""

from __future__ import annotations

import re

from flask import Response, current_app, flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.bulk_uploads import UploadStatus
from app.domain.errors import DomainError
from app.domain.money import Money
from app.domain.paging import page_number
from app.models import BulkUpload, BulkUploadRow
from app.pages import wants_partial
from app.portal import current_member, current_partner, partner_funds, portal_route
from app.services import bulk_upload as bulk

UPLOADS_PER_PAGE = 20
ROWS_PER_PAGE = 50


def _index(error: str | None = None, status: int = 200):
    found = bulk.upload_list(
        db_session(), partner=current_partner(), page=page_number(request.args.get("page")), size=UPLOADS_PER_PAGE
    )
    return render_template(
        "portal/bulk/index.html",
        uploads=found,
        error=error,
        max_rows=current_app.config["BULK_UPLOAD_MAX_ROWS"],
        max_bytes=current_app.config["BULK_UPLOAD_MAX_BYTES"],
    ), status


@portal_route("/bulk-uploads", role="operator")
def bulk_uploads():
    return _index()


@portal_route("/bulk-uploads", role="operator", methods=("POST",), endpoint="bulk_uploads_upload")
def upload():
    file = request.files.get("file")
    if file is None or not file.filename:
        return _index("Choose a CSV file to upload.", 422)
    # One byte over the limit is enough to refuse the file without reading all of it.
    data = file.stream.read(current_app.config["BULK_UPLOAD_MAX_BYTES"] + 1)
    session = db_session()
    try:
        upload = bulk.upload_file(session, partner=current_partner(), member=current_member(), filename=file.filename, data=data)
    except DomainError as error:
        return _index(error.message, 422)
    earlier = bulk.earlier_upload_of_same_file(session, upload)
    if earlier is not None:
        flash(
            f"You uploaded this same file on {earlier.created_at:%Y-%m-%d %H:%M} UTC: consumers it already created show as skipped.",
            "info",
        )
    return redirect(url_for("portal.bulk_uploads_preview", public_id=upload.public_id), 303)


@portal_route("/bulk-uploads/template.csv", role="operator", endpoint="bulk_uploads_template")
def template_csv():
    return Response(
        bulk.TEMPLATE_CSV, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="consumers-template.csv"'}
    )


def _upload(public_id: str) -> BulkUpload:
    return bulk.partner_upload(db_session(), partner=current_partner(), public_id=public_id)


def _initial_funds(row: BulkUploadRow) -> Money | None:
    return Money(row.amount, row.currency) if row.outcome != bulk.ERROR and row.amount is not None else None


def _context(upload: BulkUpload) -> dict:
    """What the preview shows: progress while the queue works, then counts, funds, the commit button and the rows."""
    session = db_session()
    context = dict(upload=upload, working=UploadStatus(upload.status).is_working, outcomes=bulk.OUTCOMES)
    if context["working"]:
        return context
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in bulk.OUTCOMES else ""
    page = page_number(request.args.get("page"))
    results = bulk.rows_page(session, upload, outcome=outcome, page=page, per_page=ROWS_PER_PAGE)
    needs = bulk.funds_needed(session, current_partner(), upload)
    return context | dict(
        funds_of=_initial_funds,
        results=results,
        outcome=outcome,
        needs=needs,
        short=any(need.short for need in needs),
        to_commit=bulk.rows_to_commit(session, upload),
    )


@portal_route("/bulk-uploads/<public_id>", role="operator", endpoint="bulk_uploads_preview")
def preview(public_id: str):
    template = "portal/bulk/_rows.html" if wants_partial() else "portal/bulk/upload.html"
    return render_template(template, **_context(_upload(public_id)))


@portal_route("/bulk-uploads/<public_id>/progress", role="operator", endpoint="bulk_uploads_progress")
def progress(public_id: str):
    """Polled while the queue checks or commits; once it is done the answer no longer polls. A finished
    commit paid the initial funds out of partner funds: the header's funds come along, out of band."""
    upload = _upload(public_id)
    body = render_template("portal/bulk/_upload.html", **_context(upload))
    if upload.status == UploadStatus.COMMITTED:
        body += render_template("portal/_partner_funds.html", balances=partner_funds(), oob=True)
    return body


@portal_route("/bulk-uploads/<public_id>/errors.csv", role="operator", endpoint="bulk_uploads_errors")
def errors_csv(public_id: str):
    upload = _upload(public_id)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", upload.filename.rsplit(".", 1)[0]).strip("-.")[:80] or "upload"
    return Response(
        bulk.error_csv(db_session(), upload),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{stem}-errors.csv"'},
    )


@portal_route("/bulk-uploads/<public_id>/commit", role="operator", methods=("POST",), endpoint="bulk_uploads_commit")
def commit(public_id: str):
    upload = _upload(public_id)
    try:
        bulk.request_commit(db_session(), partner=current_partner(), upload=upload, member=current_member())
    except DomainError as error:
        return render_template("portal/bulk/upload.html", error=error.message, **_context(upload)), 422
    # No flash: the page says "Committing: n of N rows" while the queue works, then "Committed on …" in its place.
    return redirect(url_for("portal.bulk_uploads_preview", public_id=upload.public_id), 303)
