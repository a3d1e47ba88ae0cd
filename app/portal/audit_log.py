"""The audit log (admins): every change a team member or the API made, newest first, filterable."""

from __future__ import annotations

from flask import render_template, request

from app.db import db_session
from app.domain.paging import page_number
from app.pages import wants_partial
from app.portal import current_partner, portal_route
from app.services import audit

PAGE_SIZE = 50


@portal_route("/audit", role="admin")
def audit_log():
    action = request.args.get("action", "").strip()[:60]
    who = request.args.get("who", "").strip()[:120]
    log = audit.audit_log(
        db_session(),
        partner=current_partner(),
        action=action,
        who=who,
        page=page_number(request.args.get("page")),
        size=PAGE_SIZE,
    )
    context = dict(events=log, action=action, who=who, actions=log.actions)
    template = "portal/_audit_rows.html" if wants_partial() else "portal/audit.html"
    return render_template(template, **context)
