"""The partner's branded store at /s/<slug>/: sign-in, first login, terms, password reset, the catalog and brand pages."""
from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Response, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask import session as browser_session  # the signed cookie; `session` names the database session here
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from app.db import db_session
from app.domain.errors import InvalidCredentials, InvalidInput, InvalidResetLink, NotFound
from app.domain.money import Money, minor_digits
from app.domain.paging import page_number
from app.domain.passwords import password_rules
from app.domain.pricing import Quote
from app.extensions import limiter
from app.models import Consumer
from app.services import branding, catalog, consumer_auth, consumers, orders, partners
from app.services.catalog import Offer
from app.web import STORE_SIGN_IN, consumer_login_id, store_sign_in_token, wants_partial
from app.web.catalog_cache import catalog_cache

bp = Blueprint("store", __name__, url_prefix="/s/<slug>")

# Reachable without being signed in.
PUBLIC = {"store.login", "store.forgot_password", "store.reset_password", "store.brand_css", "store.logo", "store.password_rules"}
# The store's look: the same for everyone, signed in or not (no consumer is loaded for them).
ASSETS = {"store.brand_css", "store.logo"}
# Reachable while the first-login steps are unfinished.
SETUP = {"store.set_password", "store.terms", "store.logout", "store.password_rules"}


def _per_store_ip() -> str:
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
        g.partner, g.consumer_loaded_with_partner = orders.partner_consumer_and_order(
            db_session(), slug, signed_in[0], values["public_id"], store_sign_in_token()
        )
        return
    g.partner, g.consumer_loaded_with_partner = partners.partner_and_consumer(db_session(), slug, signed_in[0], store_sign_in_token())


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


def _next_step(consumer: Consumer) -> str | None:
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
        return redirect(url_for("store.login", next=request.path), 303)
    step = _next_step(g.consumer)
    if step and request.endpoint not in SETUP:
        return redirect(url_for(step), 303)
    return None


@bp.context_processor
def store_context():
    consumer = g.get("consumer")
    partner = g.get("partner")
    return {
        "partner": partner,
        "look": branding.published_look(partner) if partner is not None else None,
        "consumer": consumer,
        # Called only by pages that show the header balance.
        "header_wallets": lambda: consumers.wallets(db_session(), consumer) if consumer else [],
    }


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


CATALOG_PAGE_SIZE = 24


@dataclass(frozen=True)
class CatalogSearch:
    """What the consumer asked the catalog for, read from the query string."""

    q: str = ""
    category: str = ""
    sort: str = "name"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "CatalogSearch":
        sort = args.get("sort", "name")
        return cls(
            q=args.get("q", "").strip()[:80],
            category=args.get("category", "").strip()[:60],
            sort=sort if sort in catalog.SORTS else "name",
            page=page_number(args.get("page")),
        )

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.category)

    def link_args(self, page: int) -> dict:
        """Query-string arguments for `url_for('store.home', ...)` keeping this search, on `page`."""
        args = {"q": self.q or None, "category": self.category or None, "sort": self.sort if self.sort != "name" else None}
        return {key: value for key, value in args.items() if value} | ({"page": page} if page > 1 else {})


@bp.get("/")
def home():
    """The catalog. The whole page, or only its results (#catalog) for the active search's htmx requests."""
    session = db_session()
    wallets = consumers.wallets(session, g.consumer)
    search = CatalogSearch.from_args(request.args)
    currency = wallets[0].currency if wallets else None
    results = _rendered_catalog(session, search, currency)
    if wants_partial():
        body = results
    else:
        body = render_template(
            "store/home.html", wallets=wallets, catalog=results, search=search,
            categories=_categories(session, currency), sorts=catalog.SORTS,
        )
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _catalog_key(*parts) -> tuple:
    """What a store's rendered catalog depends on besides `parts`: the partner and its catalog version
    (moved on by every brand change), and where the app is mounted (the tiles' links)."""
    partner = g.partner
    return (partner.id, partner.slug, partner.catalog_version, request.script_root, *parts)


def _rendered_catalog(session, search: CatalogSearch, currency: str | None) -> Markup:
    """#catalog (store/_catalog.html) for this search, from the catalog cache while it is current."""

    def render() -> tuple[Markup, datetime | None]:
        def browse(page: int) -> catalog.CatalogPage:
            return catalog.browse(
                session, g.partner, currency=currency, query=search.q,
                category=search.category, sort=search.sort, page=page, per_page=CATALOG_PAGE_SIZE,
            )

        results = browse(search.page)
        if results.page > results.pages:  # a page past the end (an old link): show the last one
            results = browse(results.pages)
        return Markup(render_template("store/_catalog.html", results=results, search=search)), results.badges_change_at

    return catalog_cache().get_or_make(_catalog_key("results", currency, search), render)


def _categories(session, currency: str | None) -> list[str]:
    return catalog_cache().get_or_make(
        _catalog_key("categories", currency), lambda: (catalog.categories(session, g.partner, currency=currency), None)
    )


# A plain decimal amount in major units. Anything else (exponents, signs, words) is refused before
# it is parsed: '1e999999999' would otherwise become a billion-digit integer.
_AMOUNT = re.compile(r"\d{1,9}(?:\.\d{0,9})?|\.\d{1,9}")


@dataclass(frozen=True)
class AmountChoice:
    """The brand page's amount picker and the quote for the amount picked."""

    offer: Offer
    currency: str
    payable: bool  # the consumer has a wallet in `currency`
    amount: str  # as typed or chosen, in major units
    quote: Quote | None
    problem: str | None

    @property
    def denominations(self) -> list[Money]:
        return [Money(amount, self.currency) for amount in self.offer.brand.denomination_list]

    @property
    def low(self) -> Money:
        return Money(self.offer.brand.min_amount or 0, self.currency)

    @property
    def high(self) -> Money:
        return Money(self.offer.brand.max_amount or 0, self.currency)

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-minor_digits(self.currency))

    @property
    def chosen_minor(self) -> int | None:
        return self.quote.face_value.amount if self.quote else None

    @property
    def discount_percent(self) -> str | None:
        percent = Decimal(self.offer.settings.discount_percent).normalize()
        return f"{percent:f}" if percent else None

    @property
    def fee(self) -> Money | None:
        return Money(self.offer.settings.fee, self.currency) if self.offer.settings.fee else None

    @property
    def bonus_percent(self) -> str:
        return f"{Decimal(self.offer.settings.bonus_percent).normalize():f}"


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _amount_choice(offer: Offer, raw: str | None, wallets: list[consumers.Wallet]) -> AmountChoice:
    """Price `raw` (major units; None: the first denomination or the lowest amount) in the currency the consumer can pay in."""
    held = [wallet.currency for wallet in wallets]
    sold = offer.brand.currency_list or ["USD"]
    currency = next((code for code in held if code in sold), sold[0])
    if raw is None:
        denominations = offer.brand.denomination_list
        raw = str(Money(denominations[0] if denominations else offer.brand.min_amount or 0, currency).to_decimal())
    raw = raw.strip()
    quote_, problem = None, None
    if not raw:
        problem = "Choose an amount." if offer.brand.denomination_list else "Enter an amount."
    elif not _AMOUNT.fullmatch(raw):
        problem = "Enter the amount as a number, like 25 or 25.50."
    else:
        try:
            quote_ = offer.quote(Money.parse(raw, currency))
        except InvalidInput as error:
            problem = _sentence(error.message)
    return AmountChoice(offer, currency, currency in held, raw[:40], quote_, problem)


@bp.get("/brands/<brand_slug>")
def brand(brand_slug: str):
    """One gift card: what it is, the partner's bonus, and an amount picker priced as you choose."""
    session = db_session()
    offer = catalog.offer(session, g.partner, brand_slug)
    wallets = consumers.wallets(session, g.consumer)
    return render_template(
        "store/brand.html",
        offer=offer,
        choice=_amount_choice(offer, request.args.get("amount"), wallets),
        wallets=wallets,
        checkout_ready="store.checkout" in current_app.view_functions,
    )


@bp.get("/brands/<brand_slug>/quote", endpoint="quote")
def quote_partial(brand_slug: str):
    """#quote for the amount picked: what the consumer pays and what they get. 422 when the amount won't do."""
    session = db_session()
    try:
        offer = catalog.offer(session, g.partner, brand_slug)
    except NotFound as error:
        return render_template("store/_quote.html", choice=None, problem=error.message), 404
    choice = _amount_choice(offer, request.args.get("amount", ""), consumers.wallets(session, g.consumer))
    return render_template("store/_quote.html", choice=choice, problem=choice.problem), 422 if choice.problem else 200


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
    token = consumer_auth.start_sign_in(db_session(), consumer=consumer, replacing=store_sign_in_token())
    # force: a deactivated consumer may still sign in to look (flask-login would refuse is_active=False).
    login_user(consumer, force=True)
    browser_session[STORE_SIGN_IN] = token
    step = _next_step(consumer)
    return redirect(url_for(step) if step else _safe_next(request.form.get("next")), 303)


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
            db_session(), consumer=consumer, password=password, confirmation=request.form.get("confirmation", ""),
            current_sign_in=store_sign_in_token(),
        )
    except InvalidInput as error:
        rules = password_rules(password, email=consumer.email)
        return render_template("store/set_password.html", error=error.message, rules=rules), 422
    login_user(consumer, force=True)  # the change ended every other session; this one goes on, with the new epoch in its cookie
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
    # The queue looks the consumer up and sends the link: the answer takes as long whoever asks.
    consumer_auth.ask_for_password_reset(partner=g.partner, email=request.form.get("email", ""))
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
    flash("Your password has been changed. Sign in with your new password.", "success")
    return redirect(url_for("store.login"), 303)


YEAR = 365 * 24 * 3600


def brand_stylesheet(look: branding.Look) -> Response:
    """A look's colours as CSS custom properties (no inline styles needed), with an ETag of its content."""
    # Straight from the template: the store's context processors (the consumer, their wallets) have no part in it.
    body = current_app.jinja_env.get_template("store/brand.css").render(look=look)
    response = current_app.response_class(body, mimetype="text/css")
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    return response


@bp.get("/brand.css")
def brand_css():
    """The published look's stylesheet. Its URL carries the look's version (?v=), which every publish
    changes: that URL is cached for good; any other is revalidated by its ETag."""
    version = g.partner.branding_version_id
    response = brand_stylesheet(branding.published_look(g.partner))
    if version is not None and request.args.get("v") == str(version):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "public, no-cache"
    return response.make_conditional(request)


@bp.get("/logo/<int:version_id>.png")
def logo(version_id: int):
    """A logo that has been live, re-encoded as PNG when uploaded. It never changes under its id."""
    version = branding.published_logo(db_session(), partner=g.partner, version_id=version_id)
    response = current_app.response_class(version.logo_png, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.set_etag(f"logo-{version.id}")
    return response.make_conditional(request)
