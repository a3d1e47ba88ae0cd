"""The audit log: one AuditEvent per change a team member (or the API) makes.

Record it in the same write transaction as the change, so a change and its record commit
(or roll back) together.
"""
from __future__ import annotations

import json

from sqlmodel import Session

from app.models import AuditEvent, TeamMember


def actor_label(member: TeamMember | None) -> str:
    return f"team:{member.id} {member.email}" if member is not None else "system"


def record(
    session: Session,
    *,
    partner_id: int,
    member: TeamMember | None,
    action: str,
    subject_type: str = "",
    subject_id: str | int = "",
    summary: str = "",
    details: dict | None = None,
    actor: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        partner_id=partner_id,
        team_member_id=member.id if member is not None else None,
        actor=(actor or actor_label(member))[:120],
        action=action[:60],
        subject_type=subject_type[:40],
        subject_id=str(subject_id)[:60],
        summary=summary[:500],
        details=json.dumps(details, default=str, sort_keys=True) if details else "",
    )
    session.add(event)
    return event
