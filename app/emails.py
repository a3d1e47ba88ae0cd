"""Email builders: pure functions from business objects to subject, HTML and text.

Sending is separate (a queued task, see services/emails.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template

from app.models import Consumer, Partner


@dataclass(frozen=True)
class Email:
    kind: str
    to: str
    subject: str
    html: str
    text: str


def _render(kind: str, **context) -> tuple[str, str]:
    return render_template(f"email/{kind}.html", **context), render_template(f"email/{kind}.txt", **context)


def build_welcome_email(
    *, partner: Partner, consumer: Consumer, temporary_password: str, login_url: str, expires_at: datetime
) -> Email:
    context = dict(
        partner=partner, consumer=consumer, temporary_password=temporary_password, login_url=login_url, expires_at=expires_at
    )
    html, text = _render("welcome", **context)
    return Email("welcome", consumer.email, f"Your {partner.display_name} account is ready", html, text)


def build_password_reset_email(*, partner: Partner, consumer: Consumer, reset_url: str, valid_minutes: int) -> Email:
    context = dict(partner=partner, consumer=consumer, reset_url=reset_url, valid_minutes=valid_minutes)
    html, text = _render("password_reset", **context)
    return Email("password_reset", consumer.email, f"Reset your {partner.display_name} password", html, text)
