"""Portal sign-in: email and password, the first-login password change, sign out."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import InvalidCredentials, InvalidInput
from app.domain.passwords import password_rules
from app.extensions import limiter
from app.portal import MEMBER, PUBLIC, current_member, portal_route, safe_next, sign_in, sign_in_token, sign_out
from app.services import team


@portal_route("/login", role=PUBLIC, methods=("GET", "POST"))
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    member = current_member()
    if member is not None and request.method == "GET":
        return redirect(url_for("portal.set_password" if member.must_change_password else "portal.home"), 303)
    if request.method == "GET":
        return render_template("portal/login.html", email="", error=None, next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        member = team.authenticate(db_session(), email=email, password=request.form.get("password", ""))
    except InvalidCredentials as error:
        return render_template("portal/login.html", email=email, error=error.message, next=request.form.get("next", "")), 422
    sign_in(member, team.start_sign_in(db_session(), member=member, replacing=sign_in_token()))
    if member.must_change_password:
        return redirect(url_for("portal.set_password"), 303)
    return redirect(safe_next(request.form.get("next")), 303)


@portal_route("/logout", role=MEMBER, methods=("POST",))
def logout():
    team.sign_out(db_session(), token=sign_in_token())
    sign_out()
    flash("You're signed out.", "info")
    return redirect(url_for("portal.login"), 303)


@portal_route("/welcome/password", role=MEMBER, methods=("GET", "POST"))
def set_password():
    member = current_member()
    if not member.must_change_password:
        return redirect(url_for("portal.home"), 303)
    if request.method == "GET":
        return render_template("portal/set_password.html", error=None, rules=password_rules("", email=member.email))
    password = request.form.get("password", "")
    token = sign_in_token()
    try:
        team.set_password(
            db_session(),
            member=member,
            password=password,
            confirmation=request.form.get("confirmation", ""),
            current_sign_in=token,
        )
    except InvalidInput as error:
        return render_template(
            "portal/set_password.html", error=error.message, rules=password_rules(password, email=member.email)
        ), 422
    sign_in(member, token)  # the change ended every other session; this one goes on, with the new epoch in its cookie
    flash("Your password is set.", "success")
    return redirect(url_for("portal.home"), 303)


@portal_route("/password/rules", role=MEMBER, methods=("POST",))
def password_rules_check():
    """Inline checklist of the password policy, updated as the member types."""
    member = current_member()
    return render_template(
        "store/_password_rules.html", rules=password_rules(request.form.get("password", ""), email=member.email)
    )
