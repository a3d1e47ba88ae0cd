"""Partner API requests refused at authentication: why, in words a developer can act on.

The API answers every refusal with the seed's one 403 (app/api/auth.py). Here the refusal is
diagnosed (app/domain/signing_diagnosis.py words it) with the same signing functions the verifier
uses (app/security.py), kept for the portal when the key is known (its last KEEP_PER_KEY refusals:
older ones are deleted in the same transaction), and returned for the server log. A request with
an unknown key is only logged. Nothing kept can sign a request: no body (its length and SHA-256),
no signature, no secret.

The portal's signing playground (`playground`) computes, for one of the partner's keys, the string
to sign and the signature the verifier expects for a request pasted into a form, and where a
client's signature or string to sign differs. The secret never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from flask import current_app
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.db import write_transaction
from app.domain.errors import InvalidInput
from app.domain.signing_diagnosis import (
    Difference,
    RefusalReason,
    SignatureFacts,
    diagnosis,
    first_difference,
    refine,
    reformatted_bodies,
)
from app.models import ApiKey, ApiRefusedRequest, Partner
from app.security import (
    SIGNATURE_VERSIONS,
    canonical_query,
    constant_time_equals,
    request_signature,
    string_to_sign,
    token_hash,
)

log = logging.getLogger(__name__)

KEEP_PER_KEY = 50
AUTH_HEADERS = ("x-api-key", "x-client-id", "x-timestamp", "x-signature")


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


@dataclass(frozen=True)
class ReceivedRequest:
    """A partner API request as the verifier saw it (the headers as sent, "" when absent)."""

    method: str
    path: str  # as sent, without the query
    query: bytes
    body: bytes
    source_ip: str
    api_key: str
    client_id: str
    timestamp: str
    signature: str
    signature_version: str  # x-signature-version as sent, "" when left out (which means 1)

    @property
    def missing_headers(self) -> tuple[str, ...]:
        values = (self.api_key, self.client_id, self.timestamp, self.signature)
        return tuple(name for name, value in zip(AUTH_HEADERS, values, strict=True) if not value)

    @property
    def version(self) -> str:
        return self.signature_version or "1"


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    diagnosis: str
    key: ApiKey | None  # None: no such key (nothing is kept, only logged)


def signature_facts(
    secret: bytes,
    *,
    version: str,
    method: str,
    path: str,
    query: bytes,
    timestamp: str,
    client_id: str,
    body: bytes,
    signature: str,
) -> SignatureFacts:
    """What a signature that does not match the request does match (the verifier's own string_to_sign)."""

    def signs(candidate_version: str, candidate_body: bytes) -> str:
        return request_signature(
            secret, string_to_sign(candidate_version, method, path, query, timestamp, client_id, candidate_body)
        )

    expected = signs(version, body)
    other_version = "2" if version == "1" else "1"
    return SignatureFacts(
        matches_empty_body=bool(body) and constant_time_equals(signs(version, b""), signature),
        matches_reformatted_body=any(
            constant_time_equals(signs(version, variant), signature) for variant in reformatted_bodies(body)
        ),
        matches_other_version=constant_time_equals(signs(other_version, body), signature),
        matches_as_hex=constant_time_equals(base64.b64decode(expected).hex(), signature.lower()),
    )


def key_for(session: Session, api_key: str) -> ApiKey | None:
    """The stored key an x-api-key header names (by its hash), revoked or not."""
    if not api_key:
        return None
    return session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(api_key))).first()


def _secret(key: ApiKey) -> bytes | None:
    try:
        return current_app.extensions["encryptor"].decrypt(key.hmac_secret_encrypted).encode()
    except ValueError:
        return None


def diagnose(session: Session, received: ReceivedRequest, *, reason: RefusalReason, skew_seconds: float | None = None) -> Refusal:
    """The refusal named as precisely as the request allows (a bad signature: what it matches instead)."""
    key = key_for(session, received.api_key)
    if reason is RefusalReason.BAD_SIGNATURE and key is not None and received.version in SIGNATURE_VERSIONS:
        secret = _secret(key)
        if secret is not None:
            facts = signature_facts(
                secret,
                version=received.version,
                method=received.method,
                path=received.path,
                query=received.query,
                timestamp=received.timestamp,
                client_id=received.client_id,
                body=received.body,
                signature=received.signature,
            )
            reason = refine(reason, facts)
    text = diagnosis(reason, skew_seconds=skew_seconds, missing=received.missing_headers, version=received.version)
    return Refusal(reason=reason, diagnosis=text, key=key)


def record_refusal(
    session: Session, received: ReceivedRequest, *, reason: RefusalReason, now: datetime, skew_seconds: float | None = None
) -> Refusal:
    """Diagnose a refusal and, when the key is known, keep it among the key's last KEEP_PER_KEY (one transaction)."""
    refusal = diagnose(session, received, reason=reason, skew_seconds=skew_seconds)
    key = refusal.key
    if key is None:
        return refusal
    key_id = cast(int, key.id)
    with write_transaction(session):
        session.add(
            ApiRefusedRequest(
                api_key_id=key_id,
                partner_id=key.partner_id,
                refused_at=now,
                method=_cut(received.method, 10),
                path=_cut(received.path, 300),
                source_ip=_cut(received.source_ip, 64),
                reason=refusal.reason.value,
                diagnosis=_cut(refusal.diagnosis, 300),
                signature_version=_cut(received.signature_version, 8),
                timestamp=_cut(received.timestamp, 64),
                skew_seconds=round(skew_seconds) if skew_seconds is not None else None,
                body_length=len(received.body),
                body_sha256=hashlib.sha256(received.body).hexdigest(),
            )
        )
        session.flush()
        # The newest KEEP_PER_KEY stay; everything older than them goes.
        oldest_kept = session.exec(
            select(ApiRefusedRequest.id)
            .where(ApiRefusedRequest.api_key_id == key_id)
            .order_by(col(ApiRefusedRequest.id).desc())
            .offset(KEEP_PER_KEY - 1)
            .limit(1)
        ).first()
        if oldest_kept is not None:
            session.execute(
                delete(ApiRefusedRequest).where(
                    col(ApiRefusedRequest.api_key_id) == key_id, col(ApiRefusedRequest.id) < oldest_kept
                )
            )
    return refusal


def refusal_counts(session: Session, partner: Partner) -> dict[int, int]:
    """API key id -> how many refusals are kept for it (at most KEEP_PER_KEY)."""
    rows = session.exec(
        select(ApiRefusedRequest.api_key_id, func.count())
        .where(ApiRefusedRequest.partner_id == partner.id)
        .group_by(col(ApiRefusedRequest.api_key_id))
    ).all()
    return {key_id: count for key_id, count in rows}


def refused_requests(session: Session, *, partner: Partner, key: ApiKey) -> list[ApiRefusedRequest]:
    """The key's last KEEP_PER_KEY refused requests, newest first."""
    if key.partner_id != partner.id:
        return []
    return list(
        session.exec(
            select(ApiRefusedRequest)
            .where(ApiRefusedRequest.api_key_id == key.id)
            .order_by(col(ApiRefusedRequest.id).desc())
            .limit(KEEP_PER_KEY)
        ).all()
    )


# --- the signing playground ----------------------------------------------------------------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PLAYGROUND_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class SigningQuestion:
    """A request as a developer pastes it into the playground."""

    method: str = "POST"
    path: str = "/api/partner/v1/customer"  # may end in ?query
    timestamp: str = ""
    body: str = ""
    signature: str = ""  # optional: the x-signature their client sent
    version: str = "1"
    client_string: str = ""  # optional: the string their client signed
    crlf: bool = False  # the body's line breaks are CRLF (a browser sends every textarea's as CRLF)


@dataclass(frozen=True)
class SigningAnswer:
    key: ApiKey
    client_id: str
    version: str
    path: str
    query: str  # as v2 signs it (sorted)
    string_to_sign: str
    expected_signature: str
    signature_given: bool
    signature_matches: bool
    reason: RefusalReason | None  # what a signature that doesn't match matches instead (or plain bad signature)
    diagnosis: str
    difference: Difference | None  # where the client's string to sign departs from ours


def _lines(text: str, crlf: bool) -> str:
    text = text.replace("\r\n", "\n")
    return text.replace("\n", "\r\n") if crlf else text


def playground(session: Session, *, partner: Partner, key_id: int, question: SigningQuestion) -> SigningAnswer:
    """The string to sign and the expected x-signature for `question` with the partner's key `key_id`,
    computed by the verifier's own functions; the secret stays here."""
    key = session.get(ApiKey, key_id)
    if key is None or key.partner_id != partner.id or key.revoked_at is not None:
        raise InvalidInput("Choose one of your active API keys.", field="key")
    method = question.method.strip().upper()
    if method not in METHODS:
        raise InvalidInput(f"The method must be one of {', '.join(METHODS)}.", field="method")
    if question.version not in SIGNATURE_VERSIONS:
        raise InvalidInput("The signature version must be 1 or 2.", field="version")
    path, _, query = question.path.strip().partition("?")
    if question.version == "2" and not path.startswith("/"):
        raise InvalidInput("For v2, give the path as sent, starting with /, e.g. /api/partner/v1/customers/1.", field="path")
    timestamp = question.timestamp.strip()
    if not timestamp:
        raise InvalidInput("Give the x-timestamp the request was sent with.", field="timestamp")
    body_text = _lines(question.body, question.crlf)
    body = body_text.encode()
    if len(body) > PLAYGROUND_MAX_BODY:
        raise InvalidInput(f"The body can be at most {PLAYGROUND_MAX_BODY // 1024} KB here.", field="body")
    secret = _secret(key)
    if secret is None:
        raise InvalidInput(diagnosis(RefusalReason.SECRET_UNREADABLE), field="key")

    to_sign = string_to_sign(question.version, method, path, query, timestamp, partner.client_id, body)
    expected = request_signature(secret, to_sign)
    given = question.signature.strip()
    matches = bool(given) and constant_time_equals(expected, given)
    reason: RefusalReason | None = None
    said = ""
    if given and not matches:
        facts = signature_facts(
            secret,
            version=question.version,
            method=method,
            path=path,
            query=query.encode(),
            timestamp=timestamp,
            client_id=partner.client_id,
            body=body,
            signature=given,
        )
        reason = refine(RefusalReason.BAD_SIGNATURE, facts)
        said = diagnosis(reason, version=question.version)
    shown = to_sign.decode("utf-8", "replace")
    client_string = _lines(question.client_string, question.crlf) if question.client_string else ""
    return SigningAnswer(
        key=key,
        client_id=partner.client_id,
        version=question.version,
        path=path,
        query=canonical_query(query).decode("utf-8", "replace"),
        string_to_sign=shown,
        expected_signature=expected,
        signature_given=bool(given),
        signature_matches=matches,
        reason=reason,
        diagnosis=said,
        difference=first_difference(shown, client_string) if client_string else None,
    )
