"""A partner's team: invitations with a temporary password, sign-in, roles.

Same first-login flow as consumers (temporary password, then a password of their own), with
the same password policy and the same timing-safe check. Roles are ordered:
viewer < operator < admin.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template
from sqlmodel import Session, col, func, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidCredentials, InvalidInput, NotFound, TemporaryPasswordExpired
from app.domain.passwords import password_problems
from app.emails import Email, build_team_address_taken_email
from app.links import external_url
from app.models import Partner, SignInSession, TeamMember
from app.security import hash_password, hash_temporary_password, new_temporary_password, verify_password
from app.services import audit, sign_in_sessions
from app.services.consumers import clean_name, normalize_email
from app.services.emails import queue_email
from app.services.rows import row_id

ROLES = ("viewer", "operator", "admin")
ROLE_LABELS = {
    "viewer": "Viewer: can look at everything, change nothing",
    "operator": "Operator: consumers, funds and orders",
    "admin": "Admin: everything, including the team, brands, branding and API keys",
}
WRONG_CREDENTIALS = "That email and password don't match a team account."


class OnAnotherTeam(InvalidInput):
    """The address is a team member of another partner. Emails are unique across partners (the portal
    has one sign-in page, by email), so it can't join a second team; the portal must not say so."""


def role_allows(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` requires."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput("Choose a role: admin, operator or viewer.", field="role")
    return role


def find_member(session: Session, email: str) -> TeamMember | None:
    return session.exec(select(TeamMember).where(TeamMember.email == email)).first()


def partner_member(session: Session, *, partner: Partner, member_id: int) -> TeamMember:
    member = session.get(TeamMember, member_id)
    if member is None or member.partner_id != partner.id:
        raise NotFound("There is no such team member.")
    return member


def members(session: Session, partner: Partner) -> list[TeamMember]:
    return list(session.exec(select(TeamMember).where(TeamMember.partner_id == partner.id).order_by(TeamMember.email)).all())


def _invite_email(partner: Partner, member: TeamMember, temporary_password: str, invited_by: TeamMember | None) -> Email:
    context = dict(
        partner=partner,
        member=member,
        temporary_password=temporary_password,
        login_url=external_url("portal.login"),
        expires_at=member.temporary_password_expires_at,
        invited_by=invited_by,
    )
    html = render_template("email/team_invite.html", **context)
    text = render_template("email/team_invite.txt", **context)
    return Email("team_invite", member.email, f"You're invited to the {partner.name} partner portal", html, text)


def _new_temporary(member: TeamMember, temporary_password: str | None) -> str:
    temporary_password = temporary_password or new_temporary_password()
    member.password_hash = hash_temporary_password(temporary_password)
    member.must_change_password = True
    member.temporary_password_expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
    member.session_epoch += 1
    return temporary_password


def invite(
    session: Session,
    *,
    partner: Partner,
    email: str,
    full_name: str,
    role: str,
    invited_by: TeamMember | None = None,
    temporary_password: str | None = None,
    actor: str | None = None,
) -> tuple[TeamMember, str]:
    """Create a team member and email them a temporary password. Returns the member and that password.

    An address already on a team is refused: OnAnotherTeam when it's another partner's (see invite_from_portal).
    """
    email = normalize_email(email)
    full_name = clean_name(full_name, field="full_name")
    check_role(role)
    member = TeamMember(
        partner_id=row_id(partner),
        email=email,
        full_name=full_name,
        role=role,
        password_hash="",
        invited_by_id=invited_by.id if invited_by else None,
    )
    # The slow part (Argon2) before the lookup: a taken address costs the same time as a new one.
    temporary_password = _new_temporary(member, temporary_password)
    with write_transaction(session):
        existing = find_member(session, email)
        if existing is not None and existing.partner_id == partner.id:
            raise InvalidInput(f"{email} is already on your team.", field="email")
        if existing is not None:
            raise OnAnotherTeam("Someone with this email is already on another partner's team.", field="email")
        session.add(member)
        session.flush()
        queue_email(session, _invite_email(partner, member, temporary_password, invited_by), partner_id=partner.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=invited_by,
            actor=actor,
            action="team.invite",
            subject_type="team_member",
            subject_id=row_id(member),
            summary=f"Invited {email} as {role}",
        )
    return member, temporary_password


def invite_from_portal(session: Session, *, partner: Partner, email: str, full_name: str, role: str, by: TeamMember) -> str:
    """An admin's invitation from the team page. Returns the address, to confirm it was sent.

    An address on another partner's team gets the same answer as a new one (and takes as long): its
    owner is emailed a notice instead of an invitation, so an admin can't probe who is on other teams.
    The audit row says what the admin did (invited the address), as for any invitation.
    """
    try:
        member, _ = invite(session, partner=partner, email=email, full_name=full_name, role=role, invited_by=by)
        return member.email
    except OnAnotherTeam:
        pass
    email = normalize_email(email)
    notice = build_team_address_taken_email(
        partner=partner,
        email=email,
        role=role,
        invited_by_name=by.full_name if by else "",
        login_url=external_url("portal.login"),
    )
    with write_transaction(session):
        queue_email(session, notice, partner_id=partner.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="team.invite",
            subject_type="team_member",
            subject_id="",
            summary=f"Invited {email} as {role}",
        )
    return email


def resend_invite(session: Session, *, partner: Partner, member: TeamMember, by: TeamMember | None) -> TeamMember:
    """A fresh temporary password by email (the old one stops working): for someone who lost it."""
    with write_transaction(session):
        session.refresh(member)
        temporary_password = _new_temporary(member, None)
        session.add(member)
        sign_in_sessions.end_all(session, team_member_id=member.id)
        queue_email(session, _invite_email(partner, member, temporary_password, by), partner_id=partner.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="team.resend_invite",
            subject_type="team_member",
            subject_id=row_id(member),
            summary=f"New temporary password sent to {member.email}",
        )
    return member


def _admins_left(session: Session, partner: Partner, without: TeamMember) -> int:
    return session.exec(
        select(func.count())
        .select_from(TeamMember)
        .where(TeamMember.partner_id == partner.id, TeamMember.role == "admin", TeamMember.is_active, TeamMember.id != without.id)
    ).one()


def change_role(session: Session, *, partner: Partner, member: TeamMember, role: str, by: TeamMember) -> TeamMember:
    check_role(role)
    with write_transaction(session):
        session.refresh(member)
        if member.role == role:
            return member
        if member.role == "admin" and not _admins_left(session, partner, member):
            raise InvalidInput("The team needs at least one active admin.", field="role")
        before = member.role
        member.role = role
        session.add(member)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="team.change_role",
            subject_type="team_member",
            subject_id=row_id(member),
            summary=f"{member.email}: {before} → {role}",
            details={"from": before, "to": role},
        )
    return member


def set_member_active(session: Session, *, partner: Partner, member: TeamMember, active: bool, by: TeamMember) -> TeamMember:
    if not active and member.id == by.id:
        raise InvalidInput("You can't deactivate yourself.", field="member")
    with write_transaction(session):
        session.refresh(member)
        if member.is_active == active:
            return member
        if not active and member.role == "admin" and not _admins_left(session, partner, member):
            raise InvalidInput("The team needs at least one active admin.", field="member")
        member.is_active = active
        member.session_epoch += 1  # a deactivated member is signed out everywhere at once
        session.add(member)
        sign_in_sessions.end_all(session, team_member_id=member.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="team.reactivate" if active else "team.deactivate",
            subject_type="team_member",
            subject_id=row_id(member),
            summary=member.email,
        )
    return member


def authenticate(session: Session, *, email: str, password: str) -> TeamMember:
    """The active team member with this email and password, or InvalidCredentials. Timing-safe."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        email = ""
    member = find_member(session, email) if email else None
    if not verify_password(member.password_hash if member else None, password or "") or member is None or not member.is_active:
        raise InvalidCredentials(WRONG_CREDENTIALS)
    if member.must_change_password and member.temporary_password_expires_at and member.temporary_password_expires_at < utcnow():
        raise TemporaryPasswordExpired("Your temporary password has expired. Ask an admin of your team to send a new one.")
    return member


def start_sign_in(session: Session, *, member: TeamMember, replacing: str | None = None) -> str:
    """The member signed in: `last_login_at` and a new sign-in session. Returns its token, for this browser's cookie.

    `replacing`: the token this browser held until now, if any (signing in again): that session ends.
    """
    with write_transaction(session):
        member.last_login_at = utcnow()
        session.add(member)
        return sign_in_sessions.start(session, team_member_id=member.id, replacing=replacing)


def sign_out(session: Session, *, token: str | None) -> None:
    """This browser's portal session ends: its cookie, or any copy of it, signs nobody in any more."""
    if token:
        with write_transaction(session):
            sign_in_sessions.end(session, token)


def signed_in_member(session: Session, *, member_id: int, epoch: int, token: str | None) -> TeamMember | None:
    """The active member whose live sign-in session `token` is (member and session in one query), or None.

    A password change, a new temporary password or deactivation bumps the epoch: cookies from before load nobody.
    """
    row = session.exec(
        select(TeamMember, SignInSession)
        .join(SignInSession, col(SignInSession.team_member_id) == TeamMember.id)
        .where(TeamMember.id == member_id, SignInSession.token_hash == sign_in_sessions.hash_of(token))
    ).first()
    if row is None:
        return None
    member, record = row
    if not member.is_active or member.session_epoch != epoch or not sign_in_sessions.is_live(session, record):
        return None
    return member


def set_password(
    session: Session, *, member: TeamMember, password: str, confirmation: str, current_sign_in: str | None = None
) -> TeamMember:
    """First login: replace the temporary password with one of the member's own.

    Every other sign-in session of the member ends; `current_sign_in` (this browser's token) goes on.
    """
    if password != confirmation:
        raise InvalidInput("The two passwords don't match.", field="confirmation")
    if verify_password(member.password_hash, password):
        raise InvalidInput("Choose a new password, not the temporary one.", field="password")
    problems = password_problems(password, email=member.email)
    if problems:
        raise InvalidInput("Choose a stronger password: " + "; ".join(problems).lower() + ".", field="password")
    with write_transaction(session):
        session.refresh(member)
        member.password_hash = hash_password(password)
        member.must_change_password = False
        member.temporary_password_expires_at = None
        member.session_epoch += 1
        session.add(member)
        sign_in_sessions.end_all(session, team_member_id=member.id, keeping=current_sign_in)
        audit.record(
            session,
            partner_id=member.partner_id,
            member=member,
            action="team.set_password",
            subject_type="team_member",
            subject_id=row_id(member),
            summary="Chose a new password",
        )
    return member


def team_partner(session: Session, member: TeamMember) -> Partner:
    """The partner whose team `member` is on."""
    partner = session.get(Partner, member.partner_id)
    assert partner is not None  # a foreign key
    return partner
