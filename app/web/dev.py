"""Development outbox: every email the app sent, readable without an SMTP server.

Registered only when APP_ENV=development, and even then it answers only this machine: the emails hold
temporary passwords, reset links and gift cards.
"""

from flask import Blueprint, abort, render_template, request

from app.db import db_session
from app.pages import CONTENT_SECURITY_POLICY
from app.security import from_this_machine
from app.services import emails as email_service

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def this_machine_only():
    if not from_this_machine(request.environ):
        abort(404)


@bp.get("/outbox")
def outbox():
    return render_template("dev/outbox.html", emails=email_service.latest_emails(db_session(), limit=100))


@bp.get("/outbox/<int:email_id>")
def outbox_email(email_id: int):
    email = email_service.sent_email(db_session(), email_id)
    if email is None:
        return render_template("errors/error.html", title="Not found", message="No such email."), 404
    page = render_template("dev/email.html", email=email.message, html=email.html, text=email.text)
    # The email sits in a srcdoc frame, which inherits this page's policy: let its inline styles apply.
    return page, {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    }
