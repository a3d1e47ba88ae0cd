"""The store's settings (issue #17): its time zone and the campaign expiry reminders. Everyone on the team may
look; only admins change them (app/services/partner_settings.py audits the change)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.campaign_periods import REMINDER_DAYS_MAX, time_zone_names
from app.domain.errors import InvalidInput
from app.domain.money import Money
from app.domain.orders import UNSEND_WINDOW_MAX
from app.pages import sentence
from app.portal import current_member, current_partner, portal_route
from app.services import partner_settings


def _page(*, error: str | None = None, field: str | None = None, values: dict | None = None, status: int = 200):
    partner = current_partner()
    shown = {
        "time_zone": partner.time_zone,
        "reminder_days": str(partner.reminder_days),
        "unsend_window_minutes": str(partner.unsend_window_minutes),
        "confirm_recipient_over": str(Money(partner.confirm_recipient_over, partner.currency_list[0]).to_decimal()),
    } | (values or {})
    return (
        render_template(
            "portal/settings.html",
            values=shown,
            time_zones=time_zone_names(),
            reminder_days_max=REMINDER_DAYS_MAX,
            unsend_window_max=UNSEND_WINDOW_MAX,
            error=error,
            field=field,
        ),
        status,
    )


@portal_route("/settings", role="viewer")
def settings():
    return _page()


def _confirm_recipient_over(raw: str) -> int | None:
    """The checkout's confirm-the-address threshold, typed in major units of the store's first currency (blank: unchanged)."""
    if not raw:
        return None
    try:
        amount = Money.parse(raw, current_partner().currency_list[0], field="confirm_recipient_over")
    except InvalidInput:
        amount = Money(-1, current_partner().currency_list[0])
    if amount.amount < 0:
        raise InvalidInput(
            "The amount over which senders confirm the recipient's address must be a number like 100 or 250.00 (0: always).",
            field="confirm_recipient_over",
        )
    return amount.amount


@portal_route("/settings", role="admin", methods=("POST",), endpoint="settings_save")
def settings_save():
    values = {
        key: request.form.get(key, "").strip()[:80]
        for key in ("time_zone", "reminder_days", "unsend_window_minutes", "confirm_recipient_over")
    }
    try:
        days = values["reminder_days"]
        if not (days.isascii() and days.isdigit()) or len(days) > 3:
            raise InvalidInput(
                f"Reminder days must be a whole number from 0 (no reminders) to {REMINDER_DAYS_MAX}.", field="reminder_days"
            )
        window = values["unsend_window_minutes"]
        if window and not (window.isascii() and window.isdigit() and len(window) <= 5):
            raise InvalidInput(
                f"The unsend window must be a whole number of minutes from 0 to {UNSEND_WINDOW_MAX}.",
                field="unsend_window_minutes",
            )
        partner_settings.update_settings(
            db_session(),
            partner=current_partner(),
            time_zone=values["time_zone"],
            reminder_days=int(days),
            by=current_member(),
            unsend_window_minutes=int(window) if window else None,
            confirm_recipient_over=_confirm_recipient_over(values["confirm_recipient_over"]),
        )
    except InvalidInput as error:
        return _page(error=sentence(error.message), field=error.field, values=values, status=422)
    flash("The settings were saved.", "success")
    return redirect(url_for("portal.settings"), 303)
