"""A partner's store settings (issue #17): its time zone (recurring campaigns' weeks and months start at 00:00
there) and how many days before a campaign balance expires its consumers are reminded. Admins change them in
the portal; every change is audited in its own transaction."""

from __future__ import annotations

from sqlmodel import Session

from app.db import write_transaction
from app.domain import campaign_periods as periods
from app.domain.errors import InvalidInput
from app.domain.orders import check_unsend_window
from app.models import Partner, TeamMember
from app.services import audit, partners
from app.services.rows import referenced, row_id

# The checkout's "I checked the address" threshold (minor units): at most 1,000,000 in major units.
CONFIRM_RECIPIENT_OVER_MAX = 1_000_000_00


def update_settings(
    session: Session,
    *,
    partner: Partner,
    time_zone: str,
    reminder_days: int,
    by: TeamMember | None,
    unsend_window_minutes: int | None = None,
    confirm_recipient_over: int | None = None,
) -> Partner:
    """Set the time zone (an IANA name, checked with zoneinfo) and the reminder days (0-30; 0: no reminders), and
    the unsend window (minutes a store's immediate gift waits so its sender can still cancel it; None: unchanged),
    and the price (minor units) over which the checkout asks the sender to confirm a recipient's address (None: unchanged).
    Bad input: InvalidInput, nothing changed. Unchanged settings write nothing."""
    time_zone = periods.check_time_zone(time_zone)
    reminder_days = periods.check_reminder_days(reminder_days)
    if unsend_window_minutes is not None:
        unsend_window_minutes = check_unsend_window(unsend_window_minutes)
    if confirm_recipient_over is not None and not 0 <= confirm_recipient_over <= CONFIRM_RECIPIENT_OVER_MAX:
        raise InvalidInput(
            "Ask to confirm the address for gifts over an amount from 0 (always) to 1,000,000.", field="confirm_recipient_over"
        )
    with write_transaction(session):
        partners.hold_partner(session, row_id(partner))
        fresh = referenced(session, Partner, row_id(partner), populate_existing=True)
        wanted: dict = {"time_zone": time_zone, "reminder_days": reminder_days}
        if unsend_window_minutes is not None:
            wanted["unsend_window_minutes"] = unsend_window_minutes
        if confirm_recipient_over is not None:
            wanted["confirm_recipient_over"] = confirm_recipient_over
        changed = {key: value for key, value in wanted.items() if getattr(fresh, key) != value}
        if not changed:
            return fresh
        before = {key: getattr(fresh, key) for key in changed}
        for key, value in changed.items():
            setattr(fresh, key, value)
        session.add(fresh)
        audit.record(
            session,
            partner_id=row_id(fresh),
            member=by,
            action="partner.settings",
            subject_type="partner",
            subject_id=row_id(fresh),
            summary="Changed the store settings: "
            + ", ".join(f"{key.replace('_', ' ')} {before[key]} → {value}" for key, value in changed.items()),
            details={"before": before, "after": changed},
        )
    return fresh
