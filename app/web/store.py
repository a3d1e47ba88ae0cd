"""The partner's branded store at /s/<slug>/: sign-in, first login, terms, password reset, home."""
from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from app.db import db_session
from app.domain.errors import InvalidCredentials, InvalidInput, InvalidResetLink
from app.domain.passwords import password_rules
from app.extensions import limiter
from app.models import Consumer
from app.services import consumer_auth, consumers, partners

bp = Blueprint("store", __name__, url_prefix="/s/<slug>")

# Reachable without being signed in.
PUBLIC = {"store.login", "store.forgot_password", "store.reset_password", "store.brand_css", "store.password_rules"}
# Reachable while the first-login steps are unfinished.
SETUP = {"store.set_password", "store.terms", "store.logout", "store.password_rules"}


def _per_store_ip() -> str:
    """Rate-limit key: the client's address within one store (the slug is in g once the URL is parsed)."""
    partner = g.get("partner")
    return f"{request.remote_addr}:{partner.slug if partner else request.path}"


@bp.url_value_preprocessor
def load_partner(_endpoint, values):
    g.partner = partners.partner_by_slug(db_session(), values.pop("slug"))


@bp.url_defaults
def add_slug(_endpoint, values):
    if "slug" not in values and "partner" in g:
        values["slug"] = g.partner.slug


def signed_in_consumer() -> Consumer | None:
    """The signed-in consumer if they belong to this store; a session from another store counts for nothing."""
    if current_user.is_authenticated and isinstance(current_user._get_current_object(), Consumer):
        if current_user.partner_id == g.partner.id:
            return current_user._get_current_object()
    return None


def _next_step(consumer: Consumer) -> str | None:
    if consumer.must_change_password:
        return "store.set_password"
    if consumer_auth.terms_to_accept(db_session(), consumer) is not None:
        return "store.terms"
    return None


@bp.before_request
def require_finished_sign_in():
    g.consumer = signed_in_consumer()
    if request.endpoint in PUBLIC:
        return None
    if g.consumer is None:
        return redirect(url_for("store.login", next=request.path), 303)
    step = _next_step(g.consumer)
    if step and request.endpoint not in SETUP:
        return redirect(url_for(step), 303)
    return None


@bp.context_processor
def store_context():
    return {"partner": g.get("partner"), "consumer": g.get("consumer")}


def _safe_next(target: str | None) -> str:
    """Only a path inside this store: never an open redirect."""
    home = url_for("store.home")
    if not target:
        return home
    parts = urlsplit(target)
    path = posixpath.normpath(unquote(parts.path))  # '/s/x/%2e%2e/..' must not climb out either
    if parts.scheme or parts.netloc or "\\" in target or not (path + "/").startswith(f"/s/{g.partner.slug}/"):
        return home
    return quote(path) + (f"?{parts.query}" if parts.query else "")


@bp.get("/")
def home():
    session = db_session()
    return render_template("store/home.html", wallets=consumers.wallets(session, g.consumer))


@bp.get("/wallet")
def wallet():
    """The header's balance, refreshed in place by the `wallet-changed` event."""
    return render_template("store/_wallet.html", wallets=consumers.wallets(db_session(), g.consumer))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=_per_store_ip)
def login():
    if g.consumer is not None and request.method == "GET":
        return redirect(url_for(_next_step(g.consumer) or "store.home"), 303)
    if request.method == "GET":
        return render_template("store/login.html", email="", error=None, next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        consumer = consumer_auth.authenticate(
            db_session(), partner=g.partner, email=email, password=request.form.get("password", "")
        )
    except InvalidCredentials as error:
        return render_template("store/login.html", email=email, error=error.message, next=request.form.get("next", "")), 422
    # force: a deactivated consumer may still sign in to look (flask-login would refuse is_active=False).
    login_user(consumer, force=True)
    step = _next_step(consumer)
    return redirect(url_for(step) if step else _safe_next(request.form.get("next")), 303)


@bp.post("/logout")
def logout():
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
            db_session(), consumer=consumer, password=password, confirmation=request.form.get("confirmation", "")
        )
    except InvalidInput as error:
        rules = password_rules(password, email=consumer.email)
        return render_template("store/set_password.html", error=error.message, rules=rules), 422
    login_user(consumer, force=True)  # the password change ended every session, this one included
    flash("Your password is set.", "success")
    return redirect(url_for(_next_step(consumer) or "store.home"), 303)


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
        return render_template("store/terms.html", terms=consumer_auth.terms_to_accept(session, consumer), error=error.message), 422
    return redirect(url_for("store.home"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"], key_func=_per_store_ip)
def forgot_password():
    if request.method == "GET":
        return render_template("store/forgot.html", sent=False)
    consumer_auth.request_password_reset(db_session(), partner=g.partner, email=request.form.get("email", ""))
    return render_template("store/forgot.html", sent=True)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    session = db_session()
    try:
        consumer = consumer_auth.consumer_for_reset_token(session, partner=g.partner, token=token)
    except InvalidResetLink as error:
        return render_template("store/forgot.html", sent=False, error=error.message), 410
    if request.method == "GET":
        return render_template("store/reset.html", token=token, error=None, rules=password_rules("", email=consumer.email))
    password = request.form.get("password", "")
    try:
        consumer_auth.reset_password(
            session, partner=g.partner, token=token, password=password, confirmation=request.form.get("confirmation", "")
        )
    except InvalidResetLink as error:
        return render_template("store/forgot.html", sent=False, error=error.message), 410
    except InvalidInput as error:
        rules = password_rules(password, email=consumer.email)
        return render_template("store/reset.html", token=token, error=error.message, rules=rules), 422
    if g.consumer is not None:
        logout_user()
    flash("Your password has been changed. Sign in with your new password.", "success")
    return redirect(url_for("store.login"), 303)


@bp.get("/brand.css")
def brand_css():
    """The partner's colours as CSS custom properties (no inline styles needed)."""
    response = current_app.response_class(
        render_template("store/brand.css", partner=g.partner), mimetype="text/css"
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
