"""A partner's API keys, managed by its admins.

The key and its HMAC secret are shown once, when issued (app/services/partners.issue_api_key
keeps only the key's hash and the encrypted secret). A revoked key stops at its next request:
the API looks the key up on every call. Another partner's key is simply not found.
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import update
from sqlmodel import Session, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.models import ApiKey, Partner, TeamMember
from app.security import token_hash
from app.services import audit
from app.services.partners import ApiCredentials, issue_api_key

LABEL_MAX = 80


def keys(session: Session, partner: Partner) -> list[ApiKey]:
    """Newest first, revoked ones included (the list is the keys' history too)."""
    return list(session.exec(select(ApiKey).where(ApiKey.partner_id == partner.id).order_by(ApiKey.id.desc())).all())


def partner_key(session: Session, *, partner: Partner, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.partner_id != partner.id:
        raise NotFound("There is no such API key.")
    return key


def clean_label(value: str) -> str:
    label = " ".join((value or "").split())
    if len(label) > LABEL_MAX:
        raise InvalidInput(f"The label can be at most {LABEL_MAX} characters.", field="label")
    if any(unicodedata.category(c).startswith("C") for c in label):
        raise InvalidInput("The label contains characters that are not allowed.", field="label")
    return label


def issued_key(session: Session, credentials: ApiCredentials) -> ApiKey:
    """The stored key behind credentials just issued."""
    return session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(credentials.api_key))).one()


def create(
    session: Session,
    *,
    partner: Partner,
    label: str = "",
    created_by: TeamMember | None = None,
    require_signature_v2: bool = False,
) -> tuple[ApiKey, ApiCredentials]:
    """A new key for the partner's systems. The credentials returned are the only copy in clear."""
    label = clean_label(label)
    with write_transaction(session):
        credentials = issue_api_key(session, partner=partner)
        key = issued_key(session, credentials)
        key.label = label
        key.created_by_id = created_by.id if created_by else None
        key.require_signature_v2 = bool(require_signature_v2)
        session.add(key)
    return key, credentials


def set_require_signature_v2(
    session: Session, *, partner: Partner, key: ApiKey, required: bool, by: TeamMember | None = None, actor: str | None = None
) -> ApiKey:
    """Whether the key accepts only v2 signatures (which cover the path and query), from its next request.

    Setting what is already set changes nothing and records nothing; a revoked key is refused
    (InvalidInput). A change is audited, by the team member `by` (or `actor`, e.g. "cli").
    """
    required = bool(required)
    with write_transaction(session):
        changed = session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key.id,
                ApiKey.partner_id == partner.id,
                ApiKey.revoked_at.is_(None),
                ApiKey.require_signature_v2 != required,
            )
            .values(require_signature_v2=required)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.refresh(key)
        if key.revoked_at is not None:
            raise InvalidInput(f"The key {key.prefix}… is revoked.", field="key")
        if changed:
            audit.record(
                session,
                partner_id=partner.id,
                member=by,
                actor=actor,
                action="api_key.require_v2" if required else "api_key.allow_v1",
                subject_type="api_key",
                subject_id=key.id,
                summary=(f"Key {key.prefix}… now accepts only v2 signatures" if required
                         else f"Key {key.prefix}… accepts v1 signatures again"),
                details={"prefix": key.prefix, "requireSignatureV2": required},
            )
    return key


def revoke(session: Session, *, partner: Partner, key: ApiKey) -> ApiKey:
    """The key stops working at once. Refused (InvalidInput) when it already was revoked."""
    with write_transaction(session):
        revoked = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id, ApiKey.partner_id == partner.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not revoked:
            raise InvalidInput(f"The key {key.prefix}… is already revoked.", field="key")
        session.refresh(key)
    return key


def rotate(session: Session, *, partner: Partner, key: ApiKey, by: TeamMember | None = None) -> tuple[ApiKey, ApiCredentials]:
    """A new key with the old one's label and signature rule, and the old one revoked, in one transaction."""
    with write_transaction(session):
        revoke(session, partner=partner, key=key)
        return create(session, partner=partner, label=key.label, created_by=by, require_signature_v2=key.require_signature_v2)
