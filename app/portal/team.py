"""The team page (admins): invite members, change roles, deactivate, resend an invitation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import InvalidInput
from app.portal import current_member, current_partner, portal_route
from app.services import team as team_service


def _page(error: str | None = None, form: dict | None = None, status: int = 200):
    session = db_session()
    return render_template(
        "portal/team.html",
        members=team_service.members(session, current_partner()),
        roles=team_service.ROLES,
        role_labels=team_service.ROLE_LABELS,
        error=error,
        form=form or {},
    ), status


@portal_route("/team", role="admin")
def team():
    return _page()


@portal_route("/team/invite", role="admin", methods=("POST",))
def invite_member():
    form = {key: request.form.get(key, "") for key in ("email", "full_name", "role")}
    try:
        email = team_service.invite_from_portal(
            db_session(),
            partner=current_partner(),
            email=form["email"],
            full_name=form["full_name"],
            role=form["role"],
            by=current_member(),
        )
    except InvalidInput as error:
        return _page(error.message, form, 422)
    flash(f"Invitation sent to {email}.", "success")
    return redirect(url_for("portal.team"), 303)


def _member(member_id: int):
    return team_service.partner_member(db_session(), partner=current_partner(), member_id=member_id)


@portal_route("/team/<int:member_id>/role", role="admin", methods=("POST",))
def change_member_role(member_id: int):
    member = _member(member_id)
    try:
        team_service.change_role(
            db_session(), partner=current_partner(), member=member, role=request.form.get("role", ""), by=current_member()
        )
    except InvalidInput as error:
        return _page(error.message, status=422)
    flash(f"{member.email} is now {member.role}.", "success")
    return redirect(url_for("portal.team"), 303)


@portal_route("/team/<int:member_id>/deactivate", role="admin", methods=("POST",))
def deactivate_member(member_id: int):
    member = _member(member_id)
    try:
        team_service.set_member_active(db_session(), partner=current_partner(), member=member, active=False, by=current_member())
    except InvalidInput as error:
        return _page(error.message, status=422)
    flash(f"{member.email} can no longer sign in.", "success")
    return redirect(url_for("portal.team"), 303)


@portal_route("/team/<int:member_id>/reactivate", role="admin", methods=("POST",))
def reactivate_member(member_id: int):
    member = _member(member_id)
    team_service.set_member_active(db_session(), partner=current_partner(), member=member, active=True, by=current_member())
    flash(f"{member.email} can sign in again.", "success")
    return redirect(url_for("portal.team"), 303)


@portal_route("/team/<int:member_id>/resend-invite", role="admin", methods=("POST",))
def resend_member_invite(member_id: int):
    member = _member(member_id)
    team_service.resend_invite(db_session(), partner=current_partner(), member=member, by=current_member())
    flash(f"A new temporary password was sent to {member.email}.", "success")
    return redirect(url_for("portal.team"), 303)
