"""A partner's API keys, managed by its admins.

The key and its HMAC secret are shown once, when issued (app/services/partners.issue_api_key
keeps only the key's hash and the encrypted secret). A revoked key stops at its next request:
the API looks the key up on every call. Another partner's key is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.text import character_refusal
from app.models import ApiKey, Partner, TeamMember
from app.security import token_hash
from app.services import audit
from app.services.partners import ApiCredentials, issue_api_key
from app.services.rows import row_id

LABEL_MAX = 80


def keys(session: Session, partner: Partner) -> list[ApiKey]:
    """Newest first, revoked ones included (the list is the keys' history too)."""
    return list(session.exec(select(ApiKey).where(ApiKey.partner_id == partner.id).order_by(col(ApiKey.id).desc())).all())


@dataclass(frozen=True)
class KeyList:
    """The partner's keys (see `keys`) and the email of the team member who created each one."""

    keys: list[ApiKey]
    creators: dict[int, str]  # team member id -> email


def key_list(session: Session, partner: Partner) -> KeyList:
    found = keys(session, partner)
    creator_ids = {key.created_by_id for key in found if key.created_by_id}
    creators = (
        dict(session.exec(select(TeamMember.id, TeamMember.email).where(col(TeamMember.id).in_(creator_ids))).all())
        if creator_ids
        else {}
    )
    # ids of loaded rows are never None
    return KeyList(found, cast(dict[int, str], creators))


def partner_key(session: Session, *, partner: Partner, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.partner_id != partner.id:
        raise NotFound("There is no such API key.")
    return key


def clean_label(value: str) -> str:
    label = " ".join((value or "").split())
    if len(label) > LABEL_MAX:
        raise InvalidInput(f"The label can be at most {LABEL_MAX} characters.", field="label")
    problem = character_refusal(label)
    if problem:
        raise InvalidInput(f"The label {problem}.", field="label")
    return label


def issued_key(session: Session, credentials: ApiCredentials) -> ApiKey:
    """The stored key behind credentials just issued."""
    return session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(credentials.api_key))).one()


def create(
    session: Session, *, partner: Partner, label: str = "", require_signature_v2: bool = False, by: TeamMember
) -> tuple[ApiKey, ApiCredentials]:
    """An admin (`by`) makes a new key for the partner's systems, audited. The credentials returned are the only copy in clear."""
    label = clean_label(label)
    with write_transaction(session):
        key, credentials = _issue(session, partner=partner, label=label, created_by=by, require_signature_v2=require_signature_v2)
        _record_created(session, partner=partner, key=key, by=by)
    return key, credentials


def _issue(
    session: Session, *, partner: Partner, label: str, created_by: TeamMember | None, require_signature_v2: bool
) -> tuple[ApiKey, ApiCredentials]:
    """A new key (made by `created_by`, or by no team member: the command line)."""
    credentials = issue_api_key(session, partner=partner)
    key = issued_key(session, credentials)
    key.label = label
    key.created_by_id = created_by.id if created_by is not None else None
    key.require_signature_v2 = bool(require_signature_v2)
    session.add(key)
    return key, credentials


def _record_created(session: Session, *, partner: Partner, key: ApiKey, by: TeamMember | None, actor: str | None = None) -> None:
    audit.record(
        session,
        partner_id=row_id(partner),
        member=by,
        actor=actor,
        action="api_key.create",
        subject_type="api_key",
        subject_id=row_id(key),
        summary=f"Created key {key.prefix}…"
        + (f" ({key.label})" if key.label else "")
        + (", v2 signatures only" if key.require_signature_v2 else ""),
        details={"prefix": key.prefix, "label": key.label, "requireSignatureV2": key.require_signature_v2},
    )


def set_require_signature_v2(
    session: Session, *, partner: Partner, key: ApiKey, required: bool, by: TeamMember | None = None, actor: str | None = None
) -> ApiKey:
    """Whether the key accepts only v2 signatures (which cover the path and query), from its next request.

    Setting what is already set changes nothing and records nothing; a revoked key is refused
    (InvalidInput). A change is audited, by the team member `by` (or `actor`, e.g. "cli").
    """
    required = bool(required)
    with write_transaction(session):
        changed = cast(
            CursorResult,
            session.execute(
                update(ApiKey)
                .where(
                    col(ApiKey.id) == key.id,
                    col(ApiKey.partner_id) == partner.id,
                    col(ApiKey.revoked_at).is_(None),
                    col(ApiKey.require_signature_v2) != required,
                )
                .values(require_signature_v2=required)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        session.refresh(key)
        if key.revoked_at is not None:
            raise InvalidInput(f"The key {key.prefix}… is revoked.", field="key")
        if changed:
            audit.record(
                session,
                partner_id=row_id(partner),
                member=by,
                actor=actor,
                action="api_key.require_v2" if required else "api_key.allow_v1",
                subject_type="api_key",
                subject_id=row_id(key),
                summary=(
                    f"Key {key.prefix}… now accepts only v2 signatures"
                    if required
                    else f"Key {key.prefix}… accepts v1 signatures again"
                ),
                details={"prefix": key.prefix, "requireSignatureV2": required},
            )
    return key


def revoke(session: Session, *, partner: Partner, key: ApiKey, by: TeamMember) -> ApiKey:
    """An admin (`by`) stops the key at once, audited. Refused (InvalidInput) when it already was revoked."""
    with write_transaction(session):
        _revoke(session, partner, key)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="api_key.revoke",
            subject_type="api_key",
            subject_id=row_id(key),
            summary=f"Revoked key {key.prefix}…",
            details={"prefix": key.prefix},
        )
    return key


def _revoke(session: Session, partner: Partner, key: ApiKey) -> None:
    revoked = cast(
        CursorResult,
        session.execute(
            update(ApiKey)
            .where(col(ApiKey.id) == key.id, col(ApiKey.partner_id) == partner.id, col(ApiKey.revoked_at).is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not revoked:
        raise InvalidInput(f"The key {key.prefix}… is already revoked.", field="key")
    session.refresh(key)


def rotate(session: Session, *, partner: Partner, key: ApiKey, by: TeamMember) -> tuple[ApiKey, ApiCredentials]:
    """A new key with the old one's label and signature rule, and the old one revoked, in one transaction,
    audited as one change by the admin `by`. A revoked key can't be rotated: a new key is what it needs."""
    with write_transaction(session):
        try:
            _revoke(session, partner, key)
        except InvalidInput as error:
            raise InvalidInput(f"{error.message} Create a new key instead.", field=error.field) from None
        new, credentials = _issue(
            session, partner=partner, label=key.label, created_by=by, require_signature_v2=key.require_signature_v2
        )
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="api_key.rotate",
            subject_type="api_key",
            subject_id=row_id(key),
            summary=f"Replaced key {key.prefix}… with {new.prefix}…",
            details={"revoked": key.prefix, "issued": new.prefix},
        )
    return new, credentials


def create_outside_portal(
    session: Session, *, partner: Partner, label: str = "", require_signature_v2: bool = False, actor: str = "cli"
) -> tuple[ApiKey, ApiCredentials]:
    """`flask create-api-key`: a new key made by no team member, audited as `actor`. The credentials returned
    are the only copy in clear."""
    label = clean_label(label)
    with write_transaction(session):
        key, credentials = _issue(
            session, partner=partner, label=label, created_by=None, require_signature_v2=require_signature_v2
        )
        _record_created(session, partner=partner, key=key, by=None, actor=actor)
    return key, credentials
