"""Request authentication for the partner API, as the seed specifies.

Every request carries four headers:

    x-api-key     the key issued to the partner (stored only as its SHA-256)
    x-client-id   the partner's client id
    x-timestamp   ISO 8601 with an explicit offset, e.g. 2026-02-12T14:30:00.000Z
    x-signature   base64(HMAC-SHA256(hmac_secret, METHOD + "\n" + TIMESTAMP + "\n" + CLIENT_ID + "\n" + BODY))

BODY is the raw request body as sent ("" when none). A request is refused when any header
is missing, the key is unknown or revoked, the client id is not the key's partner's, the
timestamp is more than 5 minutes old or ahead, the signature does not match, or the
signature was used before (replay). Every refusal is the same 403, so a caller learns
nothing about which check failed; the reason is logged.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
from datetime import datetime, timedelta

from flask import current_app, g, request
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.models import ApiKey, Partner
from app.security import constant_time_equals, token_hash
from app.api.responses import json_response

log = logging.getLogger(__name__)

FORBIDDEN_MESSAGE = "User is not authorized to access this resource with an explicit deny in an identity-based policy"
MAX_CLOCK_SKEW = timedelta(minutes=5)
LAST_USED_RESOLUTION = timedelta(minutes=1)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})\Z")
# Compared against when the key is unknown, so that case costs about the same as a bad signature.
_DUMMY_SECRET = b"no-such-key-dummy-secret"


class Unauthorized(Exception):
    """Why a request was refused (logged, never shown)."""


def forbidden():
    return json_response({"Message": FORBIDDEN_MESSAGE}, 403)


def parse_timestamp(value: str) -> datetime | None:
    """'2026-02-12T14:30:00.000Z', '...:00Z', '...:00.123456Z' or '...+00:00' -> aware UTC datetime."""
    if not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def string_to_sign(method: str, timestamp: str, client_id: str, body: bytes) -> bytes:
    return f"{method}\n{timestamp}\n{client_id}\n".encode() + body


def compute_signature(secret: bytes, method: str, timestamp: str, client_id: str, body: bytes) -> str:
    digest = hmac.new(secret, string_to_sign(method, timestamp, client_id, body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def authenticate(session: Session, *, headers, method: str, body: bytes, now: datetime) -> tuple[Partner, ApiKey]:
    api_key = headers.get("x-api-key", "")
    client_id = headers.get("x-client-id", "")
    signature = headers.get("x-signature", "")
    timestamp = headers.get("x-timestamp", "")
    if not (api_key and client_id and signature and timestamp):
        raise Unauthorized("missing header")

    when = parse_timestamp(timestamp)
    if when is None:
        raise Unauthorized("malformed timestamp")
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise Unauthorized("timestamp outside the allowed window")

    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(api_key))).first()
    if key is None:
        compute_signature(_DUMMY_SECRET, method, timestamp, client_id, body)
        raise Unauthorized("unknown api key")
    if key.revoked_at is not None:
        raise Unauthorized(f"revoked api key {key.prefix}")
    partner = session.get(Partner, key.partner_id)
    if partner is None or not constant_time_equals(partner.client_id, client_id):
        raise Unauthorized(f"client id does not belong to api key {key.prefix}")
    try:
        secret = current_app.extensions["encryptor"].decrypt(key.hmac_secret_encrypted)
    except ValueError:
        raise Unauthorized(f"cannot decrypt the secret of api key {key.prefix}") from None
    expected = compute_signature(secret.encode(), method, timestamp, client_id, body)
    if not constant_time_equals(expected, signature):
        raise Unauthorized(f"bad signature for api key {key.prefix}")

    signature_hash = hashlib.sha256(signature.encode()).hexdigest()
    store = current_app.extensions["api_replay_store"]
    with write_transaction(session):
        if not store.remember(session, signature_hash, now):
            raise Unauthorized(f"replayed signature for api key {key.prefix}")
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
            )
        except Unauthorized as refusal:
            session.rollback()
            log.info("partner API request refused: %s (%s %s)", refusal, request.method, request.path)
            return forbidden()
        g.api_partner = partner
        g.api_key = key
        return view(*args, **kwargs)

    return wrapper
