"""The consumer's account in the store: sign-in and sign-out, the first login's password and terms, forgot and reset password."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask import session as browser_session  # the signed cookie; `session` names the database session here
from flask_login import login_user, logout_user

from app.db import db_session
from app.domain.errors import InvalidCredentials, InvalidInput, InvalidResetLink
from app.domain.passwords import password_rules
from app.extensions import limiter
from app.services import consumer_auth
from app.web import STORE_SIGN_IN, store_sign_in_token
from app.web.store import bp, next_step, per_store_ip, safe_next

# Set when a reset link changed the password: the sign-in page then doesn't speak of temporary passwords.
PASSWORD_CHANGED = "password_changed"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=per_store_ip)
def login():
    if g.consumer is not None and request.method == "GET":
        return redirect(url_for(next_step(g.consumer) or "store.home"), 303)
    first_time_hint = not browser_session.get(PASSWORD_CHANGED)
    if request.method == "GET":
        return render_template(
            "store/login.html", email="", error=None, next=request.args.get("next", ""), first_time_hint=first_time_hint
        )
    email = request.form.get("email", "")
    try:
        consumer = consumer_auth.authenticate(
            db_session(), partner=g.partner, email=email, password=request.form.get("password", "")
        )
    except InvalidCredentials as error:
        return render_template(
            "store/login.html",
            email=email,
            error=error.message,
            next=request.form.get("next", ""),
            first_time_hint=first_time_hint,
        ), 422
    browser_session.pop(PASSWORD_CHANGED, None)
    token = consumer_auth.start_sign_in(db_session(), consumer=consumer, replacing=store_sign_in_token())
    # force: a deactivated consumer may still sign in to look (flask-login would refuse is_active=False).
    login_user(consumer, force=True)
    browser_session[STORE_SIGN_IN] = token
    step = next_step(consumer)
    return redirect(url_for(step) if step else safe_next(request.form.get("next")), 303)


@bp.post("/logout")
def logout():
    # The sign-in session ends in the database: a copy of this cookie taken before signs nobody in.
    consumer_auth.sign_out(db_session(), token=browser_session.pop(STORE_SIGN_IN, None))
    logout_user()
    flash("You're signed out.", "info")
    return redirect(url_for("store.login"), 303)


@bp.route("/welcome/password", methods=["GET", "POST"])
def set_password():
    consumer = g.consumer
    if not consumer.must_change_password:
        return redirect(url_for("store.home"), 303)
    if request.method == "GET":
        return render_template("store/set_password.html", error=None, rules=password_rules("", email=consumer.email))
    password = request.form.get("password", "")
    try:
        consumer_auth.set_trusted_password(
            db_session(),
            consumer=consumer,
            password=password,
            confirmation=request.form.get("confirmation", ""),
            current_sign_in=store_sign_in_token(),
        )
    except InvalidInput as error:
        rules = password_rules(password, email=consumer.email)
        return render_template("store/set_password.html", error=error.message, rules=rules), 422
    login_user(consumer, force=True)  # the change ended every other session; this one goes on, with the new epoch in its cookie
    flash("Your password is set.", "success")
    return redirect(url_for(next_step(consumer) or "store.home"), 303)


def password_rules_partial():
    """Inline checklist of the password policy, updated as the consumer types.

    On the reset page nobody is signed in: the reset token (a hidden field) names the consumer.
    """
    email = g.consumer.email if g.consumer else ""
    if not email and request.form.get("token"):
        try:
            email = consumer_auth.consumer_for_reset_token(db_session(), partner=g.partner, token=request.form["token"]).email
        except InvalidResetLink:
            email = ""
    rules = password_rules(request.form.get("password", ""), email=email)
    return render_template("store/_password_rules.html", rules=rules)


bp.add_url_rule("/password/rules", endpoint="password_rules", view_func=password_rules_partial, methods=["POST"])


@bp.route("/terms", methods=["GET", "POST"])
def terms():
    session = db_session()
    consumer = g.consumer
    if consumer.must_change_password:
        return redirect(url_for("store.set_password"), 303)
    pending = consumer_auth.terms_to_accept(session, consumer)
    if pending is None:
        return redirect(url_for("store.home"), 303)
    if request.method == "GET":
        return render_template("store/terms.html", terms=pending, error=None)
    version = request.form.get("version", "")
    try:
        consumer_auth.accept_terms(
            session,
            consumer=consumer,
            version=int(version) if version.isdigit() else None,
            accepted=request.form.get("accept") == "yes",
        )
    except InvalidInput as error:
        return render_template(
            "store/terms.html", terms=consumer_auth.terms_to_accept(session, consumer), error=error.message
        ), 422
    return redirect(url_for("store.home"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"], key_func=per_store_ip)
def forgot_password():
    if request.method == "GET":
        return render_template("store/forgot.html", sent=False)
    # The queue looks the consumer up and sends the link: the answer takes as long whoever asks.
    consumer_auth.ask_for_password_reset(db_session(), partner=g.partner, email=request.form.get("email", ""))
    return render_template("store/forgot.html", sent=True)


RESET_TOKEN = "reset_token"  # the emailed link's token, in the session once the link has been opened


@bp.route("/reset", methods=["GET", "POST"], defaults={"token": None})
@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str | None):
    """The emailed link (/reset/<token>) puts its token in the session and redirects to /reset at once, so the
    token leaves the address bar, the history and any Referer; access logs mask that first request (app/access_log.py).
    The form then carries the token in its body; /reset alone takes it from the session."""
    session = db_session()
    from_link = token is not None
    if not from_link:
        token = request.form.get("token") or browser_session.get(RESET_TOKEN) or ""
    try:
        consumer = consumer_auth.consumer_for_reset_token(session, partner=g.partner, token=token)
    except InvalidResetLink as error:
        if browser_session.get(RESET_TOKEN) == token:
            browser_session.pop(RESET_TOKEN)  # dead: used, expired, or another store's
        return render_template("store/forgot.html", sent=False, error=error.message), 410
    if request.method == "GET":
        if from_link:
            browser_session[RESET_TOKEN] = token
            return redirect(url_for("store.reset_password"), 303)
        return render_template("store/reset.html", token=token, error=None, rules=password_rules("", email=consumer.email))
    password = request.form.get("password", "")
    try:
        consumer_auth.reset_password(
            session, partner=g.partner, token=token, password=password, confirmation=request.form.get("confirmation", "")
        )
    except InvalidResetLink as error:
        if browser_session.get(RESET_TOKEN) == token:
            browser_session.pop(RESET_TOKEN)  # dead: used, expired, or another store's
        return render_template("store/forgot.html", sent=False, error=error.message), 410
    except InvalidInput as error:
        rules = password_rules(password, email=consumer.email)
        return render_template("store/reset.html", token=token, error=error.message, rules=rules), 422
    browser_session.pop(RESET_TOKEN, None)
    if g.consumer is not None:
        logout_user()
    browser_session[PASSWORD_CHANGED] = True
    flash("Your password has been changed. Sign in with your new password.", "success")
    return redirect(url_for("store.login"), 303)
