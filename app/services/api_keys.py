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


def create(session: Session, *, partner: Partner, label: str = "", created_by: TeamMember | None = None) -> tuple[ApiKey, ApiCredentials]:
    """A new key for the partner's systems. The credentials returned are the only copy in clear."""
    label = clean_label(label)
    with write_transaction(session):
        credentials = issue_api_key(session, partner=partner)
        key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(credentials.api_key))).one()
        key.label = label
        key.created_by_id = created_by.id if created_by else None
        session.add(key)
    return key, credentials


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
    """A new key with the old one's label, and the old one revoked, in one transaction."""
    with write_transaction(session):
        revoke(session, partner=partner, key=key)
        return create(session, partner=partner, label=key.label, created_by=by)
