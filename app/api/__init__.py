"""The partner API at /api/partner/v1: HMAC-signed requests (app/api/auth.py), answers in the
seed's JSON envelope (app/api/responses.py). CSRF does not apply: callers are servers that sign
every request, not browsers with cookies."""
from __future__ import annotations

from flask import Blueprint, Flask, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound

from app.api import replay  # noqa: F401  (registers api_signature_seen on SQLModel.metadata)
from app.api.responses import ApiError, error
from app.domain.errors import DomainError, DuplicateConsumer, InsufficientFunds, InvalidInput, NotFound
from app.extensions import csrf

URL_PREFIX = "/api/partner/v1"

bp = Blueprint("api", __name__, url_prefix=URL_PREFIX)
csrf.exempt(bp)

_HTTP_CODES = {
    400: "VALIDATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
}


def http_error(exc: HTTPException):
    status = exc.code or 500
    if status >= 500:
        return error(500, "INTERNAL_ERROR", "Something went wrong on our side. Please try again later.")
    messages = {
        404: "The requested resource does not exist.",
        405: f"Method {request.method} is not allowed for {request.path}.",
    }
    response = error(status, _HTTP_CODES.get(status, "HTTP_ERROR"), messages.get(status, exc.description or exc.name))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def domain_error(exc: DomainError):
    """Rules the services enforce, in the seed's shape; the message always names the field."""
    message = exc.message
    if isinstance(exc, InsufficientFunds):
        return error(402, "BUSINESS_RULE_ERROR", message)
    if isinstance(exc, NotFound):
        return error(404, "NOT_FOUND", message)
    # DuplicateConsumer keeps the seed's exact wording.
    if isinstance(exc, InvalidInput) and not isinstance(exc, DuplicateConsumer) and exc.field and exc.field not in message:
        message = f"{exc.field}: {message}"
    return error(400, exc.code if isinstance(exc, InvalidInput) else "BUSINESS_RULE_ERROR", message)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error(exc.status, exc.code, exc.message)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return domain_error(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_error(exc)


@bp.errorhandler(InternalServerError)
def _internal_error(exc: InternalServerError):
    return http_error(exc)


def _is_api_path() -> bool:
    return request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/")


def register_api(app: Flask) -> None:
    from app.api import customers, funds, openapi  # noqa: F401  (add their routes to bp)
    from app.api.replay import make_replay_store

    app.extensions["api_replay_store"] = make_replay_store(app.extensions["settings"].REDIS_URL)
    app.register_blueprint(bp)

    # A URL under the prefix that matches no route (or not with this method) never reaches the
    # blueprint's handlers: answer those in JSON too, and leave every other URL to the site.
    previous_404 = app.error_handler_spec[None].get(404, {}).get(HTTPNotFound)
    previous_405 = app.error_handler_spec[None].get(405, {}).get(MethodNotAllowed)

    @app.errorhandler(404)
    def _not_found(exc):
        if _is_api_path():
            return http_error(exc)
        return previous_404(exc) if previous_404 else exc

    @app.errorhandler(405)
    def _method_not_allowed(exc):
        if _is_api_path():
            return http_error(exc)
        return previous_405(exc) if previous_405 else exc

