"""The audit log (admins): every change a team member or the API made, newest first, filterable."""
from __future__ import annotations

from flask import render_template, request
from sqlmodel import func, select

from app.db import db_session
from app.domain.paging import page_number, within_pages
from app.models import AuditEvent
from app.portal import current_partner, portal_route
from app.web import wants_partial

PAGE_SIZE = 50


@portal_route("/audit", role="admin")
def audit_log():
    session = db_session()
    action = request.args.get("action", "").strip()[:60]
    who = request.args.get("who", "").strip()[:120]
    page = page_number(request.args.get("page"))
    conditions = [AuditEvent.partner_id == current_partner().id]
    if action:
        conditions.append(AuditEvent.action.startswith(action, autoescape=True))  # a typed % or _ is a character
    if who:
        conditions.append(AuditEvent.actor.contains(who, autoescape=True))
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    page = within_pages(page, total=total, size=PAGE_SIZE)
    events = session.exec(
        select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    actions = session.exec(
        select(AuditEvent.action).where(AuditEvent.partner_id == current_partner().id).distinct().order_by(AuditEvent.action)
    ).all()
    context = dict(events=events, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)), action=action, who=who, actions=actions)
    template = "portal/_audit_rows.html" if wants_partial() else "portal/audit.html"
    return render_template(template, **context)
