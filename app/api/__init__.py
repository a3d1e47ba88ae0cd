"""The partner API at /api/partner/v1: HMAC-signed requests (app/api/auth.py), answers in the
seed's JSON envelope (app/api/responses.py). CSRF does not apply: callers are servers that sign
every request, not browsers with cookies. Every request counts against its API key's rate limit
(API_RATE_LIMIT, one budget shared by all endpoints)."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import BaseConverter, ValidationError

from app.api import replay  # noqa: F401  (registers api_signature_seen on SQLModel.metadata)
from app.api.responses import ApiError, error
from app.api.schemas import MAX_ID
from app.domain.errors import DomainError, DuplicateConsumer, InsufficientFunds, InvalidInput, NotFound
from app.extensions import csrf, limiter

# Aliased: `campaigns` and `orders` here name this package's own modules (register_api imports them).
from app.services import campaigns as campaign_service
from app.services import funds as funds_service
from app.services import orders as order_service

URL_PREFIX = "/api/partner/v1"

bp = Blueprint("api", __name__, url_prefix=URL_PREFIX)
csrf.exempt(bp)


def rate_limit_key() -> str:
    """The caller's API key (as a hash: the key itself is a secret); its IP when it sends none."""
    api_key = request.headers.get("x-api-key", "")
    if api_key:
        return "api-key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
    return "api-ip:" + (request.remote_addr or "")


limiter.shared_limit(lambda: current_app.extensions["settings"].API_RATE_LIMIT, scope="partner-api", key_func=rate_limit_key)(bp)


class IdConverter(BaseConverter):
    """`<api_id:name>`: a database id, 1 to 2**31 - 1; anything else matches no route (404)."""

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


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
        413: f"The request body is too large: at most {request.max_content_length} bytes.",
        429: f"Too many requests for this API key (at most {exc.description}). Retry after the seconds in Retry-After.",
    }
    response = error(status, _HTTP_CODES.get(status, "HTTP_ERROR"), messages.get(status, exc.description or exc.name))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


# Services name fields in their own words; the API names them as its requests spell them.
API_FIELDS = {
    "consumer_id": "customerId",
    "consumer_ids": "customerIds",
    "external_ref": "externalRefId",
    "idempotency_key": "idempotencyKey",
    "per_consumer_amount": "perCustomerAmount",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "recipient_email": "recipient.email",
    "recipient_name": "recipient.name",
    "sender_name": "senderName",
    "eligible_tag": "eligibleTag",
    "eligible_created_after": "eligibleCreatedAfter",
    "recurrence_every": "recurrence.every",
    "leftover": "recurrence.leftover",
    "rollover_cap": "recurrence.rolloverCap",
    "low_budget_threshold": "lowBudgetThreshold",
}
# Refusals whose API wording the seed fixed: the service's message -> the API's.
API_WORDING = {
    funds_service.KEY_REUSED: "idempotencyKey was already used for a different request",
    campaign_service.KEY_REUSED: "idempotencyKey was already used for a different request",
    campaign_service.KEY_FORMAT: "idempotencyKey must be 8-80 letters, digits or . _ : -",
    order_service.EXTERNAL_REF_REUSED: "externalRefId was already used for a different order",
    "Consumer ids must be whole numbers.": "Customer ids must be whole numbers.",
}


def api_field(field: str | None) -> str | None:
    """A service's field name as the API spells it (customer_id -> customerId)."""
    return API_FIELDS.get(field, field) if field else field


def api_message(exc: DomainError) -> str:
    """A service's refusal in the API's words: the seed's wording where it fixed one; an InvalidInput's
    message names the field (as the API spells it) first, unless it already names it."""
    message = API_WORDING.get(exc.message, exc.message)
    field = api_field(exc.field)
    # DuplicateConsumer keeps the seed's exact wording.
    if isinstance(exc, InvalidInput) and not isinstance(exc, DuplicateConsumer) and field and field not in message:
        message = f"{field}: {message}"
    return message


def domain_error(exc: DomainError):
    """Rules the services enforce, in the seed's shape; the message always names the field."""
    message = api_message(exc)
    if isinstance(exc, InsufficientFunds):
        return error(402, "BUSINESS_RULE_ERROR", message)
    if isinstance(exc, NotFound):
        return error(404, "NOT_FOUND", message)
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


@bp.errorhandler(413)
@bp.errorhandler(429)
def _by_code(exc: HTTPException):
    # By code, so the site's own 413 and 429 pages (looked up by code before any class) do not answer.
    return http_error(exc)


def _is_api_path() -> bool:
    return request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/")


def register_api(app: Flask) -> None:
    from app.api import campaigns, catalog, customers, funds, openapi, orders, transactions, webhooks  # noqa: F401  (add their routes to bp)
    from app.api.replay import make_replay_store

    app.url_map.converters["api_id"] = IdConverter

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
