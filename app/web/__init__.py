"""Browser-facing blueprints, template filters and error pages."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, current_app, render_template, request, session
from flask_wtf.csrf import CSRFError

from app.db import db_session
from app.domain.errors import NotFound
from app.extensions import login_manager
from app.look import published_look
from app.pages import CONTENT_SECURITY_POLICY, format_money
from app.services import consumer_auth


def consumer_login_id(user_id: str | None) -> tuple[int, int] | None:
    """(consumer id, session epoch) from flask-login's user id ("consumer:<id>:<epoch>", Consumer.get_id), or None."""
    kind, _, rest = (user_id or "").partition(":")
    if kind != "consumer":
        return None
    identifier, _, epoch = rest.partition(":")
    if not identifier.isdigit() or not epoch.lstrip("-").isdigit():
        return None
    return int(identifier), int(epoch)


# The store's sign-in session token, in the signed cookie beside flask-login's "_user_id" (consumer_auth.start_sign_in).
STORE_SIGN_IN = "store_sign_in"


def store_sign_in_token() -> str | None:
    """This browser's store sign-in session token (whether or not it is still live)."""
    return session.get(STORE_SIGN_IN)


def register_web(app: Flask) -> None:
    from app.web import dev, site, store
    from app.web.assets import register_assets

    app.register_blueprint(site.bp)
    register_assets(app)  # versioned, long-cached static URLs
    store.register_store(app)  # imports every module of app/web/store/, each adding its views to the store blueprint
    if app.extensions["settings"].outbox_enabled:
        app.register_blueprint(dev.bp)

    from app.web.catalog_cache import CatalogCache

    app.extensions["catalog_cache"] = CatalogCache()
    app.add_template_filter(format_money, "money")
    # Emails rendered without a look (built outside app/emails.py) wear the partner's published one.
    app.add_template_global(lambda partner: published_look(partner, absolute=True), "published_email_look")
    app.add_template_global(Decimal, "Decimal")

    @login_manager.user_loader
    def load_user(user_id: str):
        parsed = consumer_login_id(user_id)
        if parsed is None:
            return None
        identifier, epoch = parsed
        # In the store the consumer came with the partner (one query): then they are found in the session.
        return consumer_auth.signed_in_consumer(db_session(), consumer_id=identifier, epoch=epoch, token=store_sign_in_token())

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(error):
        message = getattr(error, "message", None) or "We couldn't find that page."
        return render_template("errors/error.html", title="Not found", message=message), 404

    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        message = "This form expired or was not sent from this site. Reload the page and try again."
        return render_template("errors/error.html", title="Please try again", message=message), 400

    @app.errorhandler(413)
    def too_large(_error):
        limit_mb = current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        message = f"That upload is too large. Send at most {limit_mb:.0f} MB."
        return render_template("errors/error.html", title="Too large", message=message), 413

    @app.errorhandler(429)
    def too_many(_error):
        message = "Too many attempts. Wait a minute, then try again."
        return render_template("errors/error.html", title="Slow down", message=message), 429

    production = app.extensions["settings"].APP_ENV == "production"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages and API answers show card numbers, PINs and personal data: no cache keeps them. Only what
        # says otherwise is cached: /static files (send_file's max-age), brand.css and logos.
        response.headers.setdefault("Cache-Control", "no-store")
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.headers.get("HX-Request"):
            response.vary.add("HX-Request")
            # A boosted page reached through a redirect (sign-in -> "Choose your password"): the address bar
            # shows the page's own URL, whatever the XHR reports.
            if request.headers.get("HX-Boosted") == "true" and request.method == "GET" and response.status_code == 200:
                response.headers.setdefault("HX-Push-Url", request.script_root + request.full_path.removesuffix("?"))
        return response
