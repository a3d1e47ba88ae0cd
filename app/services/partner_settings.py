"""A partner's store settings (issue #17): its time zone (recurring campaigns' weeks and months start at 00:00
there) and how many days before a campaign balance expires its consumers are reminded. Admins change them in
the portal; every change is audited in its own transaction."""

from __future__ import annotations

from sqlmodel import Session

from app.db import write_transaction
from app.domain import campaign_periods as periods
from app.models import Partner, TeamMember
from app.services import audit, partners
from app.services.rows import referenced, row_id


def update_settings(session: Session, *, partner: Partner, time_zone: str, reminder_days: int, by: TeamMember | None) -> Partner:
    """Set the time zone (an IANA name, checked with zoneinfo) and the reminder days (0-30; 0: no reminders).
    Bad input: InvalidInput, nothing changed. Unchanged settings write nothing."""
    time_zone = periods.check_time_zone(time_zone)
    reminder_days = periods.check_reminder_days(reminder_days)
    with write_transaction(session):
        partners.hold_partner(session, row_id(partner))
        fresh = referenced(session, Partner, row_id(partner), populate_existing=True)
        wanted = {"time_zone": time_zone, "reminder_days": reminder_days}
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
