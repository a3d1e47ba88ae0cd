"""The partner portal's door: team sign-in and first login, roles on every route, the team page, the audit log."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from app.models import AuditEvent, TeamMember
from app.portal import MEMBER, PUBLIC, ROUTE_ROLES
from app.services.team import ROLES, role_allows
from tests.conftest import TEAM_PASSWORD, temporary_password_in
from tests.integration.conftest import PortalBrowser, page, redirect_path, reload

NEW_PASSWORD = "Fresh-Portal-99"


def audit_count(session) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


# --- sign-in and first login --------------------------------------------------------------


def test_an_invited_member_signs_in_with_the_emailed_password_and_must_choose_their_own(app, session, make_partner, mailbox):
    from app.services import team

    partner = make_partner()
    member, _ = team.invite(
        session, partner=partner, email="Olive.Operator@Example.com", full_name="Olive Operator", role="operator", actor="test"
    )
    message = mailbox.last_to("olive.operator@example.com")
    assert "partner portal" in message["Subject"]
    temporary = temporary_password_in(message)

    browser = PortalBrowser(app.test_client())
    response = browser.login("olive.operator@example.com", temporary)
    assert redirect_path(response) == "/portal/welcome/password"
    # Until the password is chosen, every other page sends them back here.
    assert redirect_path(browser.get("/team")) == "/portal/welcome/password"
    assert redirect_path(browser.get("/")) == "/portal/welcome/password"

    weak = browser.post("/welcome/password", {"password": "short", "confirmation": "short"})
    assert weak.status_code == 422 and "stronger password" in page(weak)
    same = browser.post("/welcome/password", {"password": temporary, "confirmation": temporary})
    assert same.status_code == 422
    checklist = browser.post("/password/rules", {"password": "abc"})
    assert checklist.status_code == 200 and "rules" in page(checklist)

    done = browser.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert done.status_code == 303
    assert not reload(session, TeamMember, member.id).must_change_password
    # The temporary password is gone; the new one works.
    other = PortalBrowser(app.test_client())
    assert other.login("olive.operator@example.com", temporary).status_code == 422
    assert other.login("olive.operator@example.com", NEW_PASSWORD).status_code == 303


def test_wrong_password_unknown_email_and_deactivated_members_get_the_same_answer(app, session, make_partner, make_team_member):
    partner = make_partner()
    member = make_team_member(partner, "viewer")
    browser = PortalBrowser(app.test_client())
    wrong = browser.login(member.email, "Not-The-Password-1")
    unknown = browser.login("nobody@example.com", TEAM_PASSWORD)
    assert wrong.status_code == unknown.status_code == 422
    assert "don't match a team account" in page(wrong) and "don't match a team account" in page(unknown)

    from app.db import write_transaction

    with write_transaction(session):
        member.is_active = False
        session.add(member)
    assert browser.login(member.email, TEAM_PASSWORD).status_code == 422


def test_a_store_consumer_session_is_not_a_portal_session(app, signed_in, store):
    response = store.client.get("/portal/team")
    assert response.status_code in (302, 303) and "/portal/login" in response.headers["Location"]


def test_next_only_leads_inside_the_portal(app, make_partner, make_team_member):
    member = make_team_member(make_partner(), "admin")
    for target, expected in [
        ("/portal/team", "/portal/team"),
        ("https://evil.example/x", "/portal/"),
        ("/portal/../s/x/", "/portal/"),
        ("//evil.example", "/portal/"),
    ]:
        browser = PortalBrowser(app.test_client())
        browser.get("/login")
        response = browser.post("/login", {"email": member.email, "password": TEAM_PASSWORD, "next": target})
        assert redirect_path(response) == expected, target


def test_signing_out_ends_the_session_and_a_password_change_ends_the_others(
    app, session, make_partner, make_team_member, portal_as
):
    member = make_team_member(make_partner(), "admin")
    first = portal_as(member)
    second = portal_as(member)
    assert second.get("/team").status_code == 200
    second.post("/logout")
    assert second.get("/team").status_code == 303

    from app.models import Partner
    from app.services import team

    # A fresh temporary password (an admin resent the invitation) ends every session of the member.
    team.resend_invite(
        session, partner=session.get(Partner, member.partner_id), member=reload(session, TeamMember, member.id), by=None
    )
    assert first.get("/team").status_code == 303


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(app, session, make_partner, make_team_member, portal_as):
    admin = make_team_member(make_partner(), "admin")
    browser = portal_as(admin)
    before = audit_count(session)
    response = browser.post("/team/invite", {"email": "x@example.com", "full_name": "X", "role": "viewer"}, csrf=False)
    assert response.status_code == 400
    assert audit_count(session) == before
    assert session.exec(select(TeamMember).where(TeamMember.email == "x@example.com")).first() is None


# --- every route, every role --------------------------------------------------------------


def _sample_url(rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        values[name] = 999_999 if converter is not None and type(converter).__name__ == "IntegerConverter" else "nothing-here"
    return rule.build(values, append_unknown=False)[1]


def portal_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("portal.")),
        key=lambda rule: (rule.endpoint == "portal.logout", rule.rule),
    )


def test_every_portal_route_declares_a_role(app):
    undeclared = [rule.endpoint for rule in portal_rules(app) if rule.endpoint not in ROUTE_ROLES]
    assert undeclared == []


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_every_route_with_every_role(app, session, make_partner, make_team_member, portal_as, role):
    partner = make_partner()
    make_team_member(partner, "admin", email="keeper@example.com")  # so the team always has an admin
    browser = PortalBrowser(app.test_client()) if role == "anonymous" else portal_as(make_team_member(partner, role))
    if role == "anonymous":
        browser.get("/login")
    changes_before = audit_count(session)
    for rule in portal_rules(app):
        needed = ROUTE_ROLES[rule.endpoint]
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        url = _sample_url(rule)
        response = (
            browser.client.get(url)
            if method == "GET"
            else browser.client.open(url, method=method, data={"csrf_token": browser.token})
        )
        where = f"{method} {url} as {role} (needs {needed})"
        assert response.status_code < 500, where
        if needed == PUBLIC:
            continue
        if role == "anonymous":
            assert response.status_code in (302, 303) and "/portal/login" in response.headers["Location"], where
        elif needed == MEMBER or role_allows(role, needed):
            assert response.status_code != 403, where
        else:
            assert response.status_code == 403, where
            assert "doesn't allow this" in page(response)
    if role in ("anonymous", "viewer"):
        # Nobody without the right to change anything changed anything.
        assert audit_count(session) == changes_before


# --- the team page ------------------------------------------------------------------------


def test_an_admin_invites_changes_roles_deactivates_and_resends(app, session, make_partner, make_team_member, portal_as, mailbox):
    partner = make_partner()
    admin = make_team_member(partner, "admin")
    browser = portal_as(admin)
    assert browser.get("/team").status_code == 200

    bad = browser.post("/team/invite", {"email": "not-an-email", "full_name": "Pat", "role": "operator"})
    assert bad.status_code == 422 and "email" in page(bad).lower()
    bad_role = browser.post("/team/invite", {"email": "pat@example.com", "full_name": "Pat", "role": "owner"})
    assert bad_role.status_code == 422 and "Choose a role" in page(bad_role)
    assert session.exec(select(TeamMember).where(TeamMember.email == "pat@example.com")).first() is None

    assert (
        browser.post("/team/invite", {"email": "pat@example.com", "full_name": "Pat Operator", "role": "operator"}).status_code
        == 303
    )
    pat = session.exec(select(TeamMember).where(TeamMember.email == "pat@example.com")).one()
    assert pat.role == "operator" and pat.partner_id == partner.id and pat.must_change_password
    first_password = temporary_password_in(mailbox.last_to("pat@example.com"))
    duplicate = browser.post("/team/invite", {"email": "PAT@example.com", "full_name": "Pat Again", "role": "viewer"})
    assert duplicate.status_code == 422 and "already" in page(duplicate)

    assert browser.post(f"/team/{pat.id}/role", {"role": "viewer"}).status_code == 303
    assert reload(session, TeamMember, pat.id).role == "viewer"

    mailbox.clear()
    assert browser.post(f"/team/{pat.id}/resend-invite").status_code == 303
    second_password = temporary_password_in(mailbox.last_to("pat@example.com"))
    assert second_password != first_password
    assert PortalBrowser(app.test_client()).login("pat@example.com", first_password).status_code == 422

    assert browser.post(f"/team/{pat.id}/deactivate").status_code == 303
    assert PortalBrowser(app.test_client()).login("pat@example.com", second_password).status_code == 422
    assert browser.post(f"/team/{pat.id}/reactivate").status_code == 303
    assert reload(session, TeamMember, pat.id).is_active

    actions = [
        event.action
        for event in session.exec(select(AuditEvent).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all()
    ]
    for action in ("team.invite", "team.change_role", "team.resend_invite", "team.deactivate", "team.reactivate"):
        assert action in actions
    log = browser.get("/audit")
    assert log.status_code == 200 and "team.change_role" in page(log) and admin.email in page(log)
    filtered = browser.get("/audit?action=team.deactivate", headers={"HX-Request": "true"})
    assert "team.deactivate" in page(filtered) and "team.change_role" not in page(filtered)


def test_the_last_admin_cannot_be_demoted_or_deactivated(app, session, make_partner, make_team_member, portal_as):
    partner = make_partner()
    admin = make_team_member(partner, "admin")
    browser = portal_as(admin)
    response = browser.post(f"/team/{admin.id}/role", {"role": "viewer"})
    assert response.status_code == 422 and "at least one active admin" in page(response)
    assert reload(session, TeamMember, admin.id).role == "admin"
    assert browser.post(f"/team/{admin.id}/deactivate").status_code == 422


def test_another_partners_member_is_not_found(app, session, make_partner, make_team_member, portal_as):
    mine, theirs = make_partner(), make_partner()
    admin = make_team_member(mine, "admin")
    stranger = make_team_member(theirs, "operator")
    browser = portal_as(admin)
    before = audit_count(session)
    assert browser.post(f"/team/{stranger.id}/role", {"role": "admin"}).status_code == 404
    assert browser.post(f"/team/{stranger.id}/deactivate").status_code == 404
    assert reload(session, TeamMember, stranger.id).role == "operator"
    assert audit_count(session) == before
    assert stranger.email not in page(browser.get("/team"))


def test_the_header_shows_the_partners_funds(app, make_partner, make_team_member, portal_as):
    partner = make_partner(funds="1234.50")
    browser = portal_as(make_team_member(partner, "viewer"))
    response = browser.get("/audit")  # viewers may not see the audit log...
    assert response.status_code == 403
    assert "$1,234.50" in page(response)  # ...but funds are in every page's header
