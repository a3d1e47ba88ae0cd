"""Partner-branded gift-card marketplace. `create_app()` builds the Flask app; no side effects at import."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import PROJECT_ROOT, Settings


def _retry_after_only_on_429(response):
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def create_app(config: dict | None = None) -> Flask:
    # Development's own secrets come from the instance folder (made there on the first start).
    settings = Settings(**(config or {})).with_instance_secrets()
    app = Flask(
        __name__,
        instance_path=settings.INSTANCE_PATH,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings.model_dump())
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        TESTING=settings.APP_ENV == "test",
        MAIL_SUPPRESS_SEND=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_STORAGE_URI=settings.REDIS_URL or "memory://",
        # Redis unreachable: count in this process's memory until it answers again, rather than failing requests;
        # and a request that was counted just before Redis went away is answered, not failed by its headers.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_HEADERS_ENABLED=True,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        # No request body is larger than the biggest upload (a bulk CSV) plus its form.
        MAX_CONTENT_LENGTH=max(4 * 1024 * 1024, settings.BULK_UPLOAD_MAX_BYTES + 256 * 1024),
        SESSION_COOKIE_SECURE=settings.SESSION_COOKIE_SECURE or settings.APP_ENV == "production",
    )
    app.extensions["settings"] = settings
    if settings.TRUSTED_PROXIES:
        # The client's address and scheme from the proxies' headers (only the last N hops, which the
        # proxies wrote: anything a client sends itself stays out). The Host header is left as it came.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.TRUSTED_PROXIES, x_proto=settings.TRUSTED_PROXIES)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from app.logs import configure_logging

    configure_logging(settings.LOG_FORMAT)  # text, or JSON lines (LOG_FORMAT=json)
    from app.access_log import mask_reset_tokens_in_logs

    mask_reset_tokens_in_logs(app)

    from app import (
        models,  # noqa: F401  (registers tables)
        tasks,  # noqa: F401  (declares the queued tasks, which init_queue binds)
    )
    from app.db import close_db_session, make_engine, reads_engine
    from app.extensions import compress, csrf, htmx, limiter, login_manager, mail
    from app.providers.simulated import SimulatedProvider
    from app.queue import init_queue, start_in_process_worker
    from app.security import Encryptor, password_hasher

    app.extensions["db_engine"] = make_engine(settings.DATABASE_URL)
    app.extensions["db_reads_engine"] = reads_engine(app.extensions["db_engine"])
    app.extensions["encryptor"] = Encryptor(settings.encryption_keys)
    app.extensions["password_hasher"] = password_hasher(
        time_cost=settings.ARGON2_TIME_COST,
        memory_cost=settings.ARGON2_MEMORY_COST_KIB,
        parallelism=settings.ARGON2_PARALLELISM,
    )
    app.extensions["provider"] = SimulatedProvider(
        latency_ms=settings.PROVIDER_LATENCY_MS,
        failure_rate=settings.PROVIDER_FAILURE_RATE,
        hang_rate=settings.PROVIDER_HANG_RATE,
    )
    app.teardown_appcontext(close_db_session)
    from app.web.assets import compression_settings

    app.config.update(compression_settings(), COMPRESS_REGISTER=False)
    compress.init_app(app)

    @app.after_request
    def compress_unless_card_codes(response):
        # Pages showing a card number or PIN stay uncompressed (app.pages.holds_card_codes: BREACH).
        return response if g.get("holds_card_codes") else compress.after_request(response)

    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    # The limiter's after_request puts Retry-After on every answer it counted; the header only means "wait"
    # on a refusal. First in the list: after_request functions run last-registered first, so this one runs last.
    app.after_request_funcs.setdefault(None, []).insert(0, _retry_after_only_on_429)
    login_manager.init_app(app)
    mail.init_app(app)
    init_queue(app)

    from app.web import register_web

    register_web(app)

    from app.portal import register_portal

    register_portal(app)

    from app.api import URL_PREFIX as API_PREFIX
    from app.api import register_api

    register_api(app)

    from app.operations import register_operations

    register_operations(app)  # /metrics, /healthz, /readyz; request ids and request metrics

    @app.before_request
    def _same_origin_changes_only():
        """Defence in depth beyond CSRF tokens: a browser names the site a form or htmx request comes
        from in `Origin`; a change asked from another site is refused. No Origin (older clients) passes;
        the partner API (signed, server to server) is not a browser's. request.host_url has the scheme
        ProxyFix restored behind TRUSTED_PROXIES."""
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.path.startswith(API_PREFIX + "/"):
            return None
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() != request.host_url.rstrip("/").lower():
            abort(403)
        return None

    from app.cli import register_cli

    register_cli(app)

    if settings.RUN_WORKER_IN_PROCESS:
        # On the first request only: CLI commands build the app too and must not start workers.
        @app.before_request
        def _start_worker():
            start_in_process_worker(app)

    return app
