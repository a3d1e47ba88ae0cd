"""Request authentication for the partner API, as the seed specifies.

Every request carries four headers:

    x-api-key     the key issued to the partner (stored only as its SHA-256)
    x-client-id   the partner's client id
    x-timestamp   ISO 8601 with an explicit offset, e.g. 2026-02-12T14:30:00.000Z
    x-signature   base64(HMAC-SHA256(hmac_secret, STRING_TO_SIGN))

and optionally `x-signature-version`, which says what STRING_TO_SIGN is (app/security.string_to_sign):

    1 (the default, the seed's)  METHOD + "\n" + TIMESTAMP + "\n" + CLIENT_ID + "\n" + BODY
    2                            METHOD + "\n" + PATH + "\n" + QUERY + "\n" + TIMESTAMP + "\n" + CLIENT_ID + "\n" + BODY

BODY is the raw request body as sent ("" when none), PATH the path as sent, QUERY the query
string with its parameters sorted (app/security.canonical_query). v1 does not cover the path or
query, so a v1 signature for one resource also fits another: a key can be set to require v2.

A request is refused when any header is missing, the version is not 1 or 2, the key is unknown
or revoked, the client id is not the key's partner's, the timestamp is more than 5 minutes old
or ahead, the signature does not match, the key requires v2 and the request is v1, or the
signature was used before (replay). Every refusal is the same 403, so a caller learns nothing
about which check failed; the reason is logged with a diagnosis (what a bad signature matches
instead: an empty body, the body re-formatted, the other version), which the portal's API keys
page also shows for the key's last 50 refusals (app/services/api_refusals.py).

Before any of that, every request counts against its client IP's budget (API_IP_RATE_LIMIT),
so made-up keys (each with a fresh per-key budget, API_RATE_LIMIT) cannot flood the checks.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from datetime import datetime, timedelta
from urllib.parse import quote

from flask import current_app, g, request
from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from app.api import bp
from app.api.responses import json_response
from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.signing_diagnosis import RefusalReason, diagnosis
from app.extensions import limiter
from app.models import ApiKey, Partner
from app.security import SIGNATURE_VERSIONS, constant_time_equals, request_signature, string_to_sign, token_hash
from app.services.api_refusals import ReceivedRequest, record_refusal

log = logging.getLogger(__name__)

SIGNATURE_VERSION_HEADER = "x-signature-version"
FORBIDDEN_MESSAGE = "User is not authorized to access this resource with an explicit deny in an identity-based policy"
MAX_CLOCK_SKEW = timedelta(minutes=5)
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Up to 9 fractional digits (.NET's round trip has 7, Java's 9: read to the microsecond), offset Z, +hh:mm or +hhmm.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})\Z")
# Compared against when the key is unknown, so that case costs about the same as a bad signature.
_DUMMY_SECRET = b"no-such-key-dummy-secret"


def client_ip_key() -> str:
    """The client's address (ProxyFix sets it from X-Forwarded-For when TRUSTED_PROXIES says so)."""
    return "api-client-ip:" + (request.remote_addr or "")


def _ip_rate_limit() -> str:
    return current_app.extensions["settings"].API_IP_RATE_LIMIT


def _ip_rate_limit_message() -> str:
    return f"{_ip_rate_limit()} from one IP address, whatever the key"


# In front of the per-key budget (API_RATE_LIMIT, app/api/__init__.py): both are counted before
# the view, so before authentication, and made-up keys share their sender's budget.
limiter.shared_limit(_ip_rate_limit, scope="partner-api-ip", key_func=client_ip_key, error_message=_ip_rate_limit_message)(bp)


class Unauthorized(Exception):
    """Why a request was refused (logged, and kept for the portal's signing diagnosis; never shown to the caller)."""

    def __init__(self, message: str, reason: RefusalReason = RefusalReason.BAD_SIGNATURE, *, skew_seconds: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.skew_seconds = skew_seconds


def forbidden():
    return json_response({"Message": FORBIDDEN_MESSAGE}, 403)


def parse_timestamp(value: str) -> datetime | None:
    """'2026-02-12T14:30:00.000Z', '...:00Z', '...:00.8265971Z', '...+00:00' or '...+0000' -> aware datetime.
    Python 3.11's fromisoformat reads every form the pattern lets through (digits past the sixth are dropped)."""
    if not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def signature_version(headers) -> str:
    """x-signature-version: "1" when the header is absent; an unknown value is refused."""
    version = headers.get(SIGNATURE_VERSION_HEADER)
    if version is None:
        return "1"
    if version not in SIGNATURE_VERSIONS:
        raise Unauthorized("unknown signature version", RefusalReason.UNKNOWN_VERSION)
    return version


def path_as_sent(environ) -> str:
    """The request's path as the client sent it (percent-encoding kept), without the query.

    From the server's RAW_URI / REQUEST_URI (gunicorn, werkzeug); rebuilt from the decoded path
    when there is neither, or the request line held an absolute URL.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    path = raw.split("?", 1)[0]
    if path.startswith("/"):
        return path
    decoded = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
    return quote(decoded, safe="/!$&'()*+,;=:@-._~")


def authenticate(
    session: Session, *, headers, method: str, body: bytes, now: datetime, path: str = "", query: bytes = b""
) -> tuple[Partner, ApiKey]:
    api_key = headers.get("x-api-key", "")
    client_id = headers.get("x-client-id", "")
    signature = headers.get("x-signature", "")
    timestamp = headers.get("x-timestamp", "")
    if not (api_key and client_id and signature and timestamp):
        raise Unauthorized("missing header", RefusalReason.MISSING_HEADERS)
    version = signature_version(headers)
    to_sign = string_to_sign(version, method, path, query, timestamp, client_id, body)

    when = parse_timestamp(timestamp)
    if when is None:
        raise Unauthorized("malformed timestamp", RefusalReason.MALFORMED_TIMESTAMP)
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise Unauthorized(
            "timestamp outside the allowed window", RefusalReason.STALE_TIMESTAMP, skew_seconds=(now - when).total_seconds()
        )

    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(api_key))).first()
    if key is None:
        request_signature(_DUMMY_SECRET, to_sign)
        raise Unauthorized("unknown api key", RefusalReason.UNKNOWN_KEY)
    if key.revoked_at is not None:
        raise Unauthorized(f"revoked api key {key.prefix}", RefusalReason.REVOKED_KEY)
    partner = session.get(Partner, key.partner_id)
    if partner is None or not constant_time_equals(partner.client_id, client_id):
        raise Unauthorized(f"client id does not belong to api key {key.prefix}", RefusalReason.WRONG_CLIENT_ID)
    try:
        secret = current_app.extensions["encryptor"].decrypt(key.hmac_secret_encrypted)
    except ValueError:
        raise Unauthorized(f"cannot decrypt the secret of api key {key.prefix}", RefusalReason.SECRET_UNREADABLE) from None
    expected = request_signature(secret.encode(), to_sign)
    if not constant_time_equals(expected, signature):
        raise Unauthorized(f"bad v{version} signature for api key {key.prefix}")
    if key.require_signature_v2 and version != "2":
        raise Unauthorized(f"v{version} signature for api key {key.prefix}, which requires v2", RefusalReason.V1_ON_V2_KEY)

    signature_hash = hashlib.sha256(signature.encode()).hexdigest()
    store = current_app.extensions["api_replay_store"]
    with write_transaction(session):
        if not store.remember(session, signature_hash, now):
            raise Unauthorized(f"replayed signature for api key {key.prefix}", RefusalReason.REPLAYED)
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key.id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            set_committed_value(key, "last_used_at", now)
    return partner, key


def _diagnosed(session: Session, refusal: Unauthorized) -> str:
    """The refusal's diagnosis, kept for the portal's API keys page when the key is known (app/services/api_refusals.py)."""
    headers = request.headers
    received = ReceivedRequest(
        method=request.method,
        path=path_as_sent(request.environ),
        query=request.query_string,
        body=request.get_data(cache=True),
        source_ip=request.remote_addr or "",
        api_key=headers.get("x-api-key", ""),
        client_id=headers.get("x-client-id", ""),
        timestamp=headers.get("x-timestamp", ""),
        signature=headers.get("x-signature", ""),
        signature_version=headers.get(SIGNATURE_VERSION_HEADER, ""),
    )
    try:
        return record_refusal(session, received, reason=refusal.reason, now=utcnow(), skew_seconds=refusal.skew_seconds).diagnosis
    except SQLAlchemyError:  # the answer stays the seed's 403 whatever happens here
        session.rollback()
        log.exception("could not keep a refused partner API request")
        return diagnosis(refusal.reason, skew_seconds=refusal.skew_seconds)


def signed(view):
    """Only a correctly signed, fresh, never-seen request reaches the view: it finds
    `g.api_partner` and `g.api_key`. Anything else gets the seed's 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        session = db_session()
        try:
            partner, key = authenticate(
                session,
                headers=request.headers,
                method=request.method,
                body=request.get_data(cache=True),
                now=utcnow(),
                path=path_as_sent(request.environ),
                query=request.query_string,
            )
        except Unauthorized as refusal:
            session.rollback()
            said = _diagnosed(session, refusal)
            log.info("partner API request refused: %s: %s (%s %s)", refusal, said, request.method, request.path)
            return forbidden()
        g.api_partner = partner
        g.api_key = key
        return view(*args, **kwargs)

    return wrapper
