"""The audit log: one AuditEvent per change a team member (or the API) makes.

Record it in the same write transaction as the change, so a change and its record commit
(or roll back) together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from app.domain.paging import Page, within_pages
from app.models import AuditEvent, Partner, TeamMember


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


@dataclass(frozen=True)
class AuditLog(Page[AuditEvent]):
    """One page of a partner's audit events, newest first, and every action it has (for the filter)."""

    actions: list[str]


def audit_log(session: Session, *, partner: Partner, action: str = "", who: str = "", page: int = 1, size: int = 50) -> AuditLog:
    """The events whose action starts with `action` and whose actor contains `who` (a typed % or _ is a character)."""
    conditions = [col(AuditEvent.partner_id) == partner.id]
    if action:
        conditions.append(col(AuditEvent.action).startswith(action, autoescape=True))
    if who:
        conditions.append(col(AuditEvent.actor).contains(who, autoescape=True))
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    page = within_pages(page, total=total, size=size)
    events = session.exec(
        select(AuditEvent).where(*conditions).order_by(col(AuditEvent.id).desc()).offset((page - 1) * size).limit(size)
    ).all()
    actions = session.exec(
        select(AuditEvent.action).where(AuditEvent.partner_id == partner.id).distinct().order_by(AuditEvent.action)
    ).all()
    return AuditLog(list(events), total, page, size, list(actions))
