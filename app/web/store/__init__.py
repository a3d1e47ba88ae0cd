"""The partner's branded store at /s/<slug>/: one blueprint, `bp`, and what all its pages share.

This module loads the partner (and the signed-in consumer with it) from the URL, sends anyone not
signed in to the sign-in page and anyone with first-login steps left to them, and gives every
template the partner, its look and the consumer. Every other module in this package adds its views
to `bp` (`register_store` imports them all):
  account   sign-in, sign-out, first-login password, terms, forgot and reset password
  catalog   the catalog and its search, a brand's page, the quote and the header wallet
  look      the published look's stylesheet and logos
  orders    checkout, review, placing an order, its page, the history and the statement
  gift      the recipient's gift page (public: its link's token opens it)
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint, Flask, g, redirect, request, url_for
from flask import session as browser_session  # the signed cookie; `session` names the database session here
from flask_login import current_user

from app.db import db_session
from app.look import published_look
from app.models import Consumer
from app.pages import safe_next as safe_path
from app.services import consumer_auth, consumers, partners
from app.services.orders import partner_consumer_and_order  # by name: this package's `orders` module takes that name
from app.web import consumer_login_id, store_sign_in_token

bp = Blueprint("store", __name__, url_prefix="/s/<slug>")

# Reachable without being signed in.
PUBLIC = {
    "store.login",
    "store.forgot_password",
    "store.reset_password",
    "store.brand_css",
    "store.logo",
    "store.password_rules",
    "store.gift_page",  # the recipient's gift page: the link's token is the key
}
# The store's look: the same for everyone, signed in or not (no consumer is loaded for them).
ASSETS = {"store.brand_css", "store.logo"}
# Reachable while the first-login steps are unfinished.
SETUP = {"store.set_password", "store.terms", "store.logout", "store.password_rules"}


def per_store_ip() -> str:
    """Rate-limit key: the client's address within one store (the slug is in g once the URL is parsed)."""
    partner = g.get("partner")
    return f"{request.remote_addr}:{partner.slug if partner else request.path}"


@bp.url_value_preprocessor
def load_partner(endpoint, values):
    slug = g.store_slug = values.pop("slug")
    signed_in = consumer_login_id(browser_session.get("_user_id")) if endpoint not in ASSETS else None
    if signed_in is None:
        g.partner = partners.partner_by_slug(db_session(), slug)
        return
    # The signed-in consumer comes with the partner, in one query, when they belong to this store. Held in g:
    # the database session keeps only weak references, and flask-login's loader (session.get) must find them
    # there instead of querying again. It still checks the session epoch; anyone else is loaded as before.
    if endpoint == "store.order_status":  # polled while the order is pending: its order comes in the same query
        g.partner, g.consumer_loaded_with_partner = partner_consumer_and_order(
            db_session(), slug, signed_in[0], values["public_id"], store_sign_in_token()
        )
        return
    g.partner, g.consumer_loaded_with_partner = partners.partner_and_consumer(
        db_session(), slug, signed_in[0], store_sign_in_token()
    )


@bp.url_defaults
def add_slug(_endpoint, values):
    if "slug" not in values and "partner" in g:
        # The slug from the URL (the partner's, which never changes): reading g.partner.slug after a write
        # transaction ended (and expired the partner) would cost a query just to build a link.
        values["slug"] = g.get("store_slug") or g.partner.slug


def signed_in_consumer() -> Consumer | None:
    """The signed-in consumer if they belong to this store; a session from another store counts for nothing."""
    if current_user.is_authenticated and isinstance(current_user._get_current_object(), Consumer):
        if current_user.partner_id == g.partner.id:
            return current_user._get_current_object()
    return None


def next_step(consumer: Consumer) -> str | None:
    """The first-login step the consumer still has to take (an endpoint), or None."""
    if consumer.must_change_password:
        return "store.set_password"
    if consumer_auth.must_accept_terms(consumer, g.partner):
        return "store.terms"
    return None


@bp.before_request
def require_finished_sign_in():
    if request.endpoint in ASSETS:
        g.consumer = None
        return None
    g.consumer = signed_in_consumer()
    if request.endpoint in PUBLIC:
        return None
    if g.consumer is None:
        # The query string comes along: a reminder email's link to the catalog filtered to one campaign keeps its filter.
        return redirect(url_for("store.login", next=request.full_path if request.query_string else request.path), 303)
    step = next_step(g.consumer)
    if step and request.endpoint not in SETUP:
        return redirect(url_for(step), 303)
    return None


@bp.context_processor
def store_context():
    consumer = g.get("consumer")
    partner = g.get("partner")
    return {
        "partner": partner,
        "look": published_look(partner) if partner is not None else None,
        "consumer": consumer,
        # The balance and navigation show once the first-login steps (password, terms) are done.
        "setup_done": consumer is not None and partner is not None and next_step(consumer) is None,
        # Called only by pages that show the header balance.
        "header_wallets": lambda: consumers.wallets(db_session(), consumer) if consumer else [],
    }


def safe_next(target: str | None) -> str:
    """Only a path inside this store: never an open redirect."""
    return safe_path(target, inside=f"/s/{g.partner.slug}/", home=url_for("store.home"))


def register_store(app: Flask) -> None:
    """Every module of this package adds its views to `bp`: import them all, then register the blueprint."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    app.register_blueprint(bp)
