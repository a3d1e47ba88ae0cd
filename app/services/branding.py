"""A partner's branding, the use cases: one draft to edit, publishing it, earlier versions, the terms of use.

Edits change the draft only (a BrandingVersion with status "draft"); the store and emails read
the Partner row, which changes when the draft is published. Publishing archives the previous
published version and gives the look a new id, so the store's stylesheet URL changes with it.
Every function is scoped to one partner: another partner's version id is NotFound. Every change
is one write transaction with its audit row, `by` the team member who made it.

The rules (fields, contrast) are app/domain/branding.py's, uploaded logos app/domain/uploaded_logos.py's,
and how the store and emails wear a look app/look.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.branding import (  # noqa: F401  (FIELDS, contrast_warnings: what callers read the branding by)
    ARCHIVED,
    DRAFT,
    FIELDS,
    PUBLISHED,
    ContrastCheck,
    clean_fields,
    clean_terms,
    contrast_warnings,
)
from app.domain.errors import InvalidInput, NotFound
from app.domain.uploaded_logos import clean_logo
from app.models import BrandingVersion, Partner, TeamMember, TermsVersion
from app.services import audit
from app.services import partners as partner_service
from app.services.rows import row_id

# --- versions -----------------------------------------------------------------------------


def _lock(session: Session, partner: Partner) -> None:
    """Serialise branding changes of one partner: a no-op UPDATE locks its row (and takes SQLite's write lock)."""
    session.execute(
        update(Partner)
        .where(col(Partner.id) == partner.id)
        .values(branding_version_id=Partner.branding_version_id)
        .execution_options(synchronize_session=False)
    )


def _with_status(session: Session, partner: Partner, status: str) -> BrandingVersion | None:
    return session.exec(
        select(BrandingVersion)
        .where(BrandingVersion.partner_id == partner.id, BrandingVersion.status == status)
        .order_by(col(BrandingVersion.version).desc())
        .execution_options(populate_existing=True)
    ).first()


def current_draft(session: Session, partner: Partner) -> BrandingVersion | None:
    return _with_status(session, partner, DRAFT)


def published_version(session: Session, partner: Partner) -> BrandingVersion | None:
    return _with_status(session, partner, PUBLISHED)


def versions(session: Session, partner: Partner) -> list[BrandingVersion]:
    """Every version of the partner's look, newest first (logos not loaded)."""
    return list(
        session.exec(
            select(BrandingVersion)
            .where(BrandingVersion.partner_id == partner.id)
            .options(defer(BrandingVersion.logo_png))  # type: ignore[arg-type]  # an InstrumentedAttribute at runtime
            .order_by(col(BrandingVersion.version).desc())
        ).all()
    )


def version_of(session: Session, *, partner: Partner, version_id: int) -> BrandingVersion:
    version = session.get(BrandingVersion, version_id)
    if version is None or version.partner_id != partner.id:
        raise NotFound("There is no such branding version.")
    return version


def published_logo(session: Session, *, partner: Partner, version_id: int) -> BrandingVersion:
    """A logo that has been live (published now or before): emails sent back then still show it."""
    version = session.get(BrandingVersion, version_id)
    if version is None or version.partner_id != partner.id or version.published_at is None or version.logo_png is None:
        raise NotFound("There is no such logo.")
    return version


def _live_values(session: Session, partner: Partner) -> dict:
    """The published look as version fields: the Partner row, and the logo of its published version."""
    values = {name: getattr(partner, name) for name in FIELDS}
    values["store_name"] = partner.display_name
    values |= {"logo_png": None, "logo_width": None, "logo_height": None}
    live = published_version(session, partner)
    if live is not None and partner.has_logo:
        values |= {"logo_png": live.logo_png, "logo_width": live.logo_width, "logo_height": live.logo_height}
    return values


def live_branding(session: Session, partner: Partner) -> BrandingVersion:
    """The published look as an unsaved version: what the editor shows before there is a draft."""
    return BrandingVersion(partner_id=row_id(partner), version=0, status=PUBLISHED, **_live_values(session, partner))


def same_as_published(session: Session, partner: Partner, version: BrandingVersion) -> bool:
    return _same_look(version, _live_values(session, partner))


def _draft_to_edit(session: Session, *, partner: Partner, by: TeamMember) -> BrandingVersion:
    """The partner's draft; the first edit after a publish starts a new one from the published look.
    Inside the caller's write transaction."""
    _lock(session, partner)
    draft = current_draft(session, partner)
    if draft is not None:
        return draft
    newest = session.exec(select(func.max(BrandingVersion.version)).where(BrandingVersion.partner_id == partner.id)).one()
    draft = BrandingVersion(
        partner_id=row_id(partner),
        version=(newest or 0) + 1,
        status=DRAFT,
        created_by_id=by.id,
        **_live_values(session, partner),
    )
    session.add(draft)
    session.flush()
    return draft


def _record(
    session: Session,
    *,
    partner: Partner,
    by: TeamMember,
    action: str,
    subject: BrandingVersion,
    summary: str,
    details: dict | None = None,
) -> None:
    audit.record(
        session,
        partner_id=row_id(partner),
        member=by,
        action=action,
        subject_type="branding_version",
        subject_id=row_id(subject),
        summary=summary,
        details=details,
    )


def update_draft(
    session: Session, *, partner: Partner, fields: Mapping[str, object], by: TeamMember
) -> tuple[BrandingVersion, dict[str, str]]:
    """Change the draft's fields (all or nothing: one bad field changes none). The store doesn't change.

    Returns the draft and the fields whose value changed (the editor saves as the admin types,
    often with nothing new: only a change is audited).
    """
    cleaned = clean_fields(fields)
    with write_transaction(session):
        draft = _draft_to_edit(session, partner=partner, by=by)
        changed = {name: value for name, value in cleaned.items() if getattr(draft, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(draft, name, value)
            draft.updated_at = utcnow()
            session.add(draft)
            _record(
                session,
                partner=partner,
                by=by,
                action="branding.draft",
                subject=draft,
                summary=f"Draft version {draft.version}: {', '.join(changed)} changed",
                details=changed,
            )
    return draft, changed


def upload_logo(session: Session, *, partner: Partner, data: bytes, filename: str, by: TeamMember) -> BrandingVersion:
    """Put an uploaded logo (checked and re-encoded) in the draft."""
    logo = clean_logo(data)
    with write_transaction(session):
        draft = _draft_to_edit(session, partner=partner, by=by)
        draft.logo_png, draft.logo_width, draft.logo_height = logo.png, logo.width, logo.height
        draft.updated_at = utcnow()
        session.add(draft)
        _record(
            session,
            partner=partner,
            by=by,
            action="branding.logo",
            subject=draft,
            summary=f"Logo uploaded to draft version {draft.version} ({draft.logo_width}×{draft.logo_height})",
            details={"filename": filename[:200], "bytes": len(data)},
        )
    return draft


def remove_logo(session: Session, *, partner: Partner, by: TeamMember) -> BrandingVersion:
    with write_transaction(session):
        draft = _draft_to_edit(session, partner=partner, by=by)
        draft.logo_png = draft.logo_width = draft.logo_height = None
        draft.updated_at = utcnow()
        session.add(draft)
        _record(
            session,
            partner=partner,
            by=by,
            action="branding.logo_removed",
            subject=draft,
            summary=f"Logo removed from draft version {draft.version}",
        )
    return draft


def _same_look(version: BrandingVersion, values: dict) -> bool:
    return all(getattr(version, name) == value for name, value in values.items())


def publish(session: Session, *, partner: Partner, by: TeamMember, contrast_acknowledged: bool = False) -> BrandingVersion:
    """Make the draft the store's look: copied onto the Partner row; the previous published version is archived.

    Colours that fail a contrast check reach every consumer: they are published only when the admin says
    so (`contrast_acknowledged`), and the audit log records the warnings and that acknowledgement."""
    with write_transaction(session):
        _lock(session, partner)
        session.refresh(partner)
        draft = current_draft(session, partner)
        if draft is None or _same_look(draft, _live_values(session, partner)):
            raise InvalidInput("The draft is the same as the live store: change something before publishing.")
        failing = contrast_warnings(draft)
        if failing and not contrast_acknowledged:
            raise InvalidInput(
                f"{len(failing)} colour pairing{'' if len(failing) == 1 else 's'} fail{'s' if len(failing) == 1 else ''} "
                "the contrast checks. Tick “I understand” to publish these colours anyway, or change them.",
                field="acknowledge_contrast",
            )
        # Checked again: whatever reached the draft, only clean values reach the store.
        cleaned = clean_fields({name: getattr(draft, name) for name in FIELDS})
        previous = published_version(session, partner)
        if previous is not None:
            previous.status = ARCHIVED
            session.add(previous)
            session.flush()  # one published version at a time
        now = utcnow()
        for name, value in cleaned.items():
            setattr(draft, name, value)
            setattr(partner, name, value)
        draft.status, draft.published_at, draft.updated_at = PUBLISHED, now, now
        partner.branding_version_id = draft.id
        partner.has_logo = draft.logo_png is not None
        session.add(draft)
        session.add(partner)
        look = {name: getattr(draft, name) for name in FIELDS} | {"logo": draft.logo_width is not None}
        warnings = [check.message for check in failing]
        summary = f"Branding version {draft.version} published"
        if warnings:
            summary += f", contrast warnings acknowledged ({len(warnings)})"
        _record(
            session,
            partner=partner,
            by=by,
            action="branding.publish",
            subject=draft,
            summary=summary,
            details=look | {"contrast_warnings": warnings, "contrast_acknowledged": bool(warnings)},
        )
    return draft


def restore(session: Session, *, partner: Partner, version_id: int, by: TeamMember) -> tuple[BrandingVersion, BrandingVersion]:
    """Copy an earlier (or the published) version into the draft, to look at it and publish it again.
    Returns the version copied and the draft."""
    with write_transaction(session):
        source = version_of(session, partner=partner, version_id=version_id)
        if source.status == DRAFT:
            raise InvalidInput("That version is the draft you are editing.")
        draft = _draft_to_edit(session, partner=partner, by=by)
        for name in (*FIELDS, "logo_png", "logo_width", "logo_height"):
            setattr(draft, name, getattr(source, name))
        draft.updated_at = utcnow()
        session.add(draft)
        _record(
            session,
            partner=partner,
            by=by,
            action="branding.restore",
            subject=source,
            summary=f"Version {source.version} copied into draft version {draft.version}",
        )
    return source, draft


# --- what the editor shows ----------------------------------------------------------------


@dataclass(frozen=True)
class Editor:
    """The branding editor's page: the draft (if any), what the form shows, the versions and the terms."""

    draft: BrandingVersion | None
    shown: BrandingVersion  # the draft, or the published look as an unsaved version
    versions: list[BrandingVersion]
    terms: TermsVersion | None
    unpublished: bool  # there is a draft and it differs from the live store

    @property
    def warnings(self) -> list[ContrastCheck]:
        return contrast_warnings(self.shown)


def editor(session: Session, partner: Partner) -> Editor:
    draft = current_draft(session, partner)
    return Editor(
        draft=draft,
        shown=draft or live_branding(session, partner),
        versions=versions(session, partner),
        terms=partner_service.current_terms(session, row_id(partner)),
        unpublished=draft is not None and not same_as_published(session, partner, draft),
    )


# --- terms of use -------------------------------------------------------------------------


def publish_terms(session: Session, *, partner: Partner, body: object, by: TeamMember) -> TermsVersion:
    """A new version of the terms, as plain text; every consumer accepts it again at their next request."""
    text = clean_terms(body)
    with write_transaction(session):
        current = partner_service.current_terms(session, row_id(partner))
        if current is not None and current.body.strip() == text:
            raise InvalidInput("These terms are the same as the current version.", field="terms")
        terms = partner_service.publish_terms(session, partner=partner, body=text)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="terms.publish",
            subject_type="terms_version",
            subject_id=terms.version,
            summary=f"Terms of use version {terms.version} published",
        )
    return terms
