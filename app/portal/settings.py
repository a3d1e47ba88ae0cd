"""The store's settings (issue #17): its time zone and the campaign expiry reminders. Everyone on the team may
look; only admins change them (app/services/partner_settings.py audits the change)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.campaign_periods import REMINDER_DAYS_MAX, time_zone_names
from app.domain.errors import InvalidInput
from app.pages import sentence
from app.portal import current_member, current_partner, portal_route
from app.services import partner_settings


def _page(*, error: str | None = None, field: str | None = None, values: dict | None = None, status: int = 200):
    partner = current_partner()
    shown = {"time_zone": partner.time_zone, "reminder_days": str(partner.reminder_days)} | (values or {})
    return (
        render_template(
            "portal/settings.html",
            values=shown,
            time_zones=time_zone_names(),
            reminder_days_max=REMINDER_DAYS_MAX,
            error=error,
            field=field,
        ),
        status,
    )


@portal_route("/settings", role="viewer")
def settings():
    return _page()


@portal_route("/settings", role="admin", methods=("POST",), endpoint="settings_save")
def settings_save():
    values = {key: request.form.get(key, "").strip()[:80] for key in ("time_zone", "reminder_days")}
    try:
        days = values["reminder_days"]
        if not (days.isascii() and days.isdigit()) or len(days) > 3:
            raise InvalidInput(
                f"Reminder days must be a whole number from 0 (no reminders) to {REMINDER_DAYS_MAX}.", field="reminder_days"
            )
        partner_settings.update_settings(
            db_session(), partner=current_partner(), time_zone=values["time_zone"], reminder_days=int(days), by=current_member()
        )
    except InvalidInput as error:
        return _page(error=sentence(error.message), field=error.field, values=values, status=422)
    flash("The settings were saved.", "success")
    return redirect(url_for("portal.settings"), 303)
