"""Development outbox: every email the app sent, readable without an SMTP server. Never in production."""
from flask import Blueprint, current_app, render_template
from sqlmodel import select

from app.db import db_session
from app.models import EmailMessage
from app.web import CONTENT_SECURITY_POLICY

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox():
    emails = db_session().exec(select(EmailMessage).order_by(EmailMessage.id.desc()).limit(100)).all()
    return render_template("dev/outbox.html", emails=emails)


@bp.get("/outbox/<int:email_id>")
def outbox_email(email_id: int):
    email = db_session().get(EmailMessage, email_id)
    if email is None:
        return render_template("errors/error.html", title="Not found", message="No such email."), 404
    encryptor = current_app.extensions["encryptor"]
    page = render_template(
        "dev/email.html",
        email=email,
        html=encryptor.decrypt(email.html_encrypted),
        text=encryptor.decrypt(email.text_encrypted),
    )
    # The email sits in a srcdoc frame, which inherits this page's policy: let its inline styles apply.
    return page, {"Content-Security-Policy": CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")}
