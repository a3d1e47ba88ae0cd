"""A partner's branding: one draft to edit, the published look the store and emails wear, earlier versions.

Edits change the draft only (a BrandingVersion with status "draft"); the store and emails read
the Partner row, which changes when the draft is published. Publishing archives the previous
published version and gives the look a new id, so the store's stylesheet URL changes with it.
Every function is scoped to one partner: another partner's version id is NotFound.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from io import BytesIO
from typing import Mapping

from email_validator import EmailNotValidError, validate_email
from flask import request, url_for
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.colors import AA_NORMAL_TEXT, WHITE, best_text_color, contrast_ratio, muted_text_color, parse_hex
from app.domain.errors import InvalidInput, NotFound
from app.links import external_url
from app.models import BrandingVersion, Partner, TeamMember
from app.services import partners as partner_service

DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
COLOR_FIELDS = {"primary_color": "The primary colour", "accent_color": "The accent colour", "background_color": "The background colour"}
FIELDS = ("store_name", *COLOR_FIELDS, "support_email", "footer_text")
DEFAULT_COLORS = {"primary_color": "#1f6feb", "accent_color": "#f59e0b", "background_color": "#ffffff"}
STORE_NAME_MAX = 120
FOOTER_TEXT_MAX = 500
SUPPORT_EMAIL_MAX = 254
TERMS_MAX = 20_000

LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4096
LOGO_MAX_PIXELS = LOGO_MAX_SIDE * LOGO_MAX_SIDE  # decoded size; a small file can still unpack into a huge image
# Pillow's own guard (this module is the app's only Pillow user): past this many pixels Image.open
# warns, past twice as many it refuses, before any pixel is decoded. clean_logo refuses past it anyway.
Image.MAX_IMAGE_PIXELS = LOGO_MAX_PIXELS
LOGO_BOX = (512, 160)  # the stored logo fits in this, keeping its proportions
LOGO_FORMATS = ("PNG", "JPEG", "WEBP")
NOT_AN_IMAGE = "The logo must be a PNG, JPEG or WebP image, and this file isn't one."
TOO_MANY_PIXELS = f"it can be at most {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} ({LOGO_MAX_PIXELS / 1e6:.1f} megapixels)."


# --- how the store looks ------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """What a store and its emails wear: the published branding, or a draft in the portal's preview.

    `partner` carries the names and colours (for a draft, a detached copy wearing the draft);
    the URLs say where the stylesheet and the logo come from.
    """

    partner: Partner
    stylesheet_url: str
    logo_url: str | None

    @cached_property
    def colors(self) -> dict[str, str]:
        """The partner's colours, each a checked '#rrggbb' (a stored value that isn't one gives way to the default)."""
        return {name: _checked(getattr(self.partner, name), default) for name, default in DEFAULT_COLORS.items()}

    @cached_property
    def css_variables(self) -> dict[str, str]:
        """The --brand-* custom properties of static/app.css."""
        return {
            "brand-primary": self.colors["primary_color"],
            "brand-accent": self.colors["accent_color"],
            "brand-background": self.colors["background_color"],
            "brand-on-primary": self.text_on_primary,
            "brand-on-background": self.text_on_background,
            "brand-muted-on-background": self.muted_on_background,
        }

    @cached_property
    def text_on_primary(self) -> str:
        return best_text_color(self.colors["primary_color"])

    @cached_property
    def text_on_background(self) -> str:
        return best_text_color(self.colors["background_color"])

    @cached_property
    def muted_on_background(self) -> str:
        return muted_text_color(self.colors["background_color"])


def _checked(value: str, default: str) -> str:
    try:
        return parse_hex(value)
    except InvalidInput:
        return default


def published_look(partner: Partner, *, absolute: bool = False) -> Look:
    """The look the store and emails wear now. `absolute` builds URLs from BASE_URL (for emails)."""
    version = partner.branding_version_id
    with_logo = bool(partner.has_logo and version)
    if absolute:
        logo = external_url("store.logo", slug=partner.slug, version_id=version) if with_logo else None
        return Look(partner, external_url("store.brand_css", slug=partner.slug, v=version or 0), logo)
    return Look(partner, *_store_look_urls(partner.slug, version or 0, with_logo, request.script_root))


@lru_cache(maxsize=1024)
def _store_look_urls(slug: str, version: int, with_logo: bool, _script_root: str) -> tuple[str, str | None]:
    """The stylesheet's and logo's URLs of one published version: the same every time (every store page asks)."""
    logo = url_for("store.logo", slug=slug, version_id=version) if with_logo else None
    return url_for("store.brand_css", slug=slug, v=version), logo


def dressed(partner: Partner, version: BrandingVersion) -> Partner:
    """A detached copy of `partner` wearing `version`'s branding, to render a preview. Never saved."""
    copy = Partner(**partner.model_dump())
    for name in FIELDS:
        setattr(copy, name, getattr(version, name))
    copy.has_logo = version.logo_width is not None
    copy.branding_version_id = version.id
    return copy


# --- contrast -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContrastCheck:
    """One pairing of text and the colour behind it, measured against WCAG AA for normal text."""

    what: str
    foreground: str
    background: str

    @property
    def ratio(self) -> float:
        return contrast_ratio(self.foreground, self.background)

    @property
    def passes(self) -> bool:
        return self.ratio >= AA_NORMAL_TEXT

    @property
    def message(self) -> str:
        return (
            f"{self.what}: {self.foreground} on {self.background} has a contrast of {self.ratio:.2f}:1; "
            f"WCAG AA needs {AA_NORMAL_TEXT}:1 for normal text."
        )


def contrast_checks(branding) -> list[ContrastCheck]:
    """The pairings the store and emails use, for anything with primary and background colours."""
    primary = _checked(branding.primary_color, DEFAULT_COLORS["primary_color"])
    background = _checked(branding.background_color, DEFAULT_COLORS["background_color"])
    checks = [
        ContrastCheck("Text on the primary colour (header, buttons, email header)", best_text_color(primary), primary),
        ContrastCheck("Text on the background colour", best_text_color(background), background),
        ContrastCheck("Links in the primary colour on the background", primary, background),
    ]
    if background != WHITE:
        checks.append(ContrastCheck("Links in the primary colour on white cards", primary, WHITE))
    return checks


def contrast_warnings(branding) -> list[ContrastCheck]:
    return [check for check in contrast_checks(branding) if not check.passes]


# --- input --------------------------------------------------------------------------------


def _plain_text(value: object, *, field: str, label: str, limit: int, multiline: bool = False) -> str:
    """Text shown as is in the store and emails: no HTML, no control characters, bounded length."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text.", field=field)
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not multiline:
        text = " ".join(text.split())
    if "<" in text or ">" in text:
        raise InvalidInput(f"{label} can't contain HTML or script (no < or >): it is shown as plain text.", field=field)
    if any(unicodedata.category(c).startswith("C") and c not in "\n\t" for c in text):
        raise InvalidInput(f"{label} contains characters that are not allowed.", field=field)
    if len(text) > limit:
        raise InvalidInput(f"{label} can be at most {limit} characters (it has {len(text)}).", field=field)
    return text


def clean_fields(raw: Mapping[str, object]) -> dict[str, str]:
    """The branding fields present in `raw`, checked and normalised. Unknown keys are ignored."""
    cleaned: dict[str, str] = {}
    if "store_name" in raw:
        name = _plain_text(raw["store_name"], field="store_name", label="The store name", limit=STORE_NAME_MAX)
        if not name:
            raise InvalidInput("Enter a store name.", field="store_name")
        cleaned["store_name"] = name
    for field, label in COLOR_FIELDS.items():
        if field in raw:
            cleaned[field] = parse_hex(raw[field], field=field, label=label)
    if "support_email" in raw:
        email = _plain_text(raw["support_email"], field="support_email", label="The support email", limit=SUPPORT_EMAIL_MAX)
        cleaned["support_email"] = _support_email(email) if email else ""
    if "footer_text" in raw:
        cleaned["footer_text"] = _plain_text(
            raw["footer_text"], field="footer_text", label="The footer text", limit=FOOTER_TEXT_MAX, multiline=True
        )
    return cleaned


def _support_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"The support email '{email[:80]}' is not a valid email address: {exc}", field="support_email") from None


@dataclass(frozen=True)
class Logo:
    png: bytes
    width: int
    height: int


def clean_logo(data: bytes) -> Logo:
    """Check an uploaded logo by its content and re-encode it as a PNG with no metadata, fit to LOGO_BOX.

    The file name and the browser's content type are not trusted: only Pillow reading a PNG,
    JPEG or WebP counts. SVG (it can carry script) and everything else is refused.
    """
    if not data:
        raise InvalidInput("Choose an image file for the logo.", field="logo")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(f"The logo file is {len(data) / (1024 * 1024):.1f} MB; it can be at most 1 MB.", field="logo")
    head = data[:512].lstrip().lower()
    if head.startswith(b"<") or b"<svg" in head:
        raise InvalidInput("SVG and other text files can't be logos: upload a PNG, JPEG or WebP image.", field="logo")
    try:
        # Image.open reads only the header: the size is known (and checked) before anything is decoded.
        with Image.open(BytesIO(data), formats=LOGO_FORMATS) as probe:
            width, height = probe.size
            if width * height > LOGO_MAX_PIXELS:
                raise InvalidInput(f"The logo is {width}×{height} pixels; {TOO_MANY_PIXELS}", field="logo")
            probe.verify()  # the whole file, not only its header
        with Image.open(BytesIO(data), formats=LOGO_FORMATS) as image:
            image.load()  # the first frame of an animation
            upright = ImageOps.exif_transpose(image)
            transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            pixels = upright.convert("RGBA" if transparent else "RGB")
    except InvalidInput:
        raise
    except Image.DecompressionBombError:  # Pillow's guard, at open: the header claims far too many pixels
        raise InvalidInput(f"The logo has more pixels than a logo may have; {TOO_MANY_PIXELS}", field="logo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidInput(NOT_AN_IMAGE, field="logo") from None
    # A new image from the bare pixels: no EXIF, ICC profile, text chunks or anything appended to the file.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    clean.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    out = BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return Logo(out.getvalue(), clean.width, clean.height)


# --- versions -----------------------------------------------------------------------------


def _lock(session: Session, partner: Partner) -> None:
    """Serialise branding changes of one partner: a no-op UPDATE locks its row (and takes SQLite's write lock)."""
    session.execute(
        update(Partner)
        .where(Partner.id == partner.id)
        .values(branding_version_id=Partner.branding_version_id)
        .execution_options(synchronize_session=False)
    )


def _with_status(session: Session, partner: Partner, status: str) -> BrandingVersion | None:
    return session.exec(
        select(BrandingVersion)
        .where(BrandingVersion.partner_id == partner.id, BrandingVersion.status == status)
        .order_by(BrandingVersion.version.desc())
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
            .options(defer(BrandingVersion.logo_png))
            .order_by(BrandingVersion.version.desc())
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
    return BrandingVersion(partner_id=partner.id, version=0, status=PUBLISHED, **_live_values(session, partner))


def same_as_published(session: Session, partner: Partner, version: BrandingVersion) -> bool:
    return _same_look(version, _live_values(session, partner))


def get_or_create_draft(session: Session, *, partner: Partner, member: TeamMember | None = None) -> BrandingVersion:
    """The partner's draft; the first edit after a publish starts a new one from the published look."""
    with write_transaction(session):
        _lock(session, partner)
        draft = current_draft(session, partner)
        if draft is not None:
            return draft
        newest = session.exec(select(func.max(BrandingVersion.version)).where(BrandingVersion.partner_id == partner.id)).one()
        draft = BrandingVersion(
            partner_id=partner.id,
            version=(newest or 0) + 1,
            status=DRAFT,
            created_by_id=member.id if member else None,
            **_live_values(session, partner),
        )
        session.add(draft)
        session.flush()
    return draft


def update_draft(
    session: Session, *, partner: Partner, member: TeamMember | None, fields: Mapping[str, object]
) -> tuple[BrandingVersion, dict[str, str]]:
    """Change the draft's fields (all or nothing: one bad field changes none). The store doesn't change.

    Returns the draft and the fields whose value changed (the editor saves as the admin types,
    often with nothing new).
    """
    cleaned = clean_fields(fields)
    with write_transaction(session):
        draft = get_or_create_draft(session, partner=partner, member=member)
        changed = {name: value for name, value in cleaned.items() if getattr(draft, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(draft, name, value)
            draft.updated_at = utcnow()
            session.add(draft)
    return draft, changed


def upload_logo(session: Session, *, partner: Partner, member: TeamMember | None, data: bytes) -> BrandingVersion:
    logo = clean_logo(data)
    with write_transaction(session):
        draft = get_or_create_draft(session, partner=partner, member=member)
        draft.logo_png, draft.logo_width, draft.logo_height = logo.png, logo.width, logo.height
        draft.updated_at = utcnow()
        session.add(draft)
    return draft


def remove_logo(session: Session, *, partner: Partner, member: TeamMember | None) -> BrandingVersion:
    with write_transaction(session):
        draft = get_or_create_draft(session, partner=partner, member=member)
        draft.logo_png = draft.logo_width = draft.logo_height = None
        draft.updated_at = utcnow()
        session.add(draft)
    return draft


def _same_look(version: BrandingVersion, values: dict) -> bool:
    return all(getattr(version, name) == value for name, value in values.items())


def publish(session: Session, *, partner: Partner, member: TeamMember | None) -> BrandingVersion:
    """Make the draft the store's look: copied onto the Partner row; the previous published version is archived."""
    with write_transaction(session):
        _lock(session, partner)
        session.refresh(partner)
        draft = current_draft(session, partner)
        if draft is None or _same_look(draft, _live_values(session, partner)):
            raise InvalidInput("The draft is the same as the live store: change something before publishing.")
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
    return draft


def restore(session: Session, *, partner: Partner, member: TeamMember | None, version_id: int) -> BrandingVersion:
    """Copy an earlier (or the published) version into the draft, to look at it and publish it again."""
    with write_transaction(session):
        source = version_of(session, partner=partner, version_id=version_id)
        if source.status == DRAFT:
            raise InvalidInput("That version is the draft you are editing.")
        draft = get_or_create_draft(session, partner=partner, member=member)
        for name in (*FIELDS, "logo_png", "logo_width", "logo_height"):
            setattr(draft, name, getattr(source, name))
        draft.updated_at = utcnow()
        session.add(draft)
    return draft


# --- terms of use -------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n{3,}")


def publish_terms(session: Session, *, partner: Partner, body: object):
    """A new version of the terms, as plain text; every consumer accepts it again at their next request."""
    text = _plain_text(body, field="terms", label="The terms of use", limit=TERMS_MAX, multiline=True)
    text = _BLANK_LINES.sub("\n\n", text)
    if not text:
        raise InvalidInput("Write the terms of use before publishing them.", field="terms")
    current = partner_service.current_terms(session, partner.id)
    if current is not None and current.body.strip() == text:
        raise InvalidInput("These terms are the same as the current version.", field="terms")
    return partner_service.publish_terms(session, partner=partner, body=text)
