"""A partner's branding, the rules: which fields there are, what each may hold, and which colours read well together.

Pure: no database, no Flask. The use cases (drafts, publishing, versions) are app/services/branding.py's;
how a look is worn by the store and its emails is app/look.py's; uploaded logos are app/domain/uploaded_logos.py's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from app.domain.colors import AA_NON_TEXT, AA_NORMAL_TEXT, WHITE, best_text_color, contrast_ratio, parse_hex
from app.domain.errors import InvalidInput


class VersionStatus(StrEnum):
    """A version's status: one draft to edit, one published (the look the store wears), the earlier ones archived."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


DRAFT, PUBLISHED, ARCHIVED = VersionStatus.DRAFT, VersionStatus.PUBLISHED, VersionStatus.ARCHIVED

COLOR_FIELDS = {
    "primary_color": "The primary colour",
    "accent_color": "The accent colour",
    "background_color": "The background colour",
}
FIELDS = ("store_name", *COLOR_FIELDS, "support_email", "footer_text")
# The accent draws the focus ring: #d97706 (amber) has 3.19:1 on white, where #f59e0b had 2.15:1.
DEFAULT_COLORS = {"primary_color": "#1f6feb", "accent_color": "#d97706", "background_color": "#ffffff"}
STORE_NAME_MAX = 120
FOOTER_TEXT_MAX = 500
SUPPORT_EMAIL_MAX = 254
TERMS_MAX = 20_000


def checked_color(value: str, default: str) -> str:
    """`value` as a checked '#rrggbb', or `default` when a stored value isn't one."""
    try:
        return parse_hex(value)
    except InvalidInput:
        return default


# --- contrast -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContrastCheck:
    """One pairing of a colour and the colour behind it, measured against WCAG AA: 4.5:1 for normal text,
    3:1 for what isn't text (the focus ring, WCAG 2.1 SC 1.4.11)."""

    what: str
    foreground: str
    background: str
    needed: float = AA_NORMAL_TEXT

    @property
    def ratio(self) -> float:
        return contrast_ratio(self.foreground, self.background)

    @property
    def passes(self) -> bool:
        return self.ratio >= self.needed

    @property
    def message(self) -> str:
        kind = "normal text" if self.needed == AA_NORMAL_TEXT else "the focus ring and other non-text parts"
        return (
            f"{self.what}: {self.foreground} on {self.background} has a contrast of {self.ratio:.2f}:1; "
            f"WCAG AA needs {self.needed:g}:1 for {kind}."
        )


def contrast_checks(branding) -> list[ContrastCheck]:
    """The pairings the store and emails use, for anything with primary, accent and background colours.

    The accent draws the keyboard focus ring around links, buttons and fields, on the background and on
    the white cards: it needs 3:1 against both (the header's ring is drawn in its text colour instead)."""
    primary = checked_color(branding.primary_color, DEFAULT_COLORS["primary_color"])
    accent = checked_color(branding.accent_color, DEFAULT_COLORS["accent_color"])
    background = checked_color(branding.background_color, DEFAULT_COLORS["background_color"])
    checks = [
        ContrastCheck("Text on the primary colour (header, buttons, email header)", best_text_color(primary), primary),
        ContrastCheck("Text on the background colour", best_text_color(background), background),
        ContrastCheck("Links in the primary colour on the background", primary, background),
        ContrastCheck("Focus ring in the accent colour on the background", accent, background, AA_NON_TEXT),
    ]
    if background != WHITE:
        checks.append(ContrastCheck("Links in the primary colour on white cards", primary, WHITE))
        checks.append(ContrastCheck("Focus ring in the accent colour on white cards", accent, WHITE, AA_NON_TEXT))
    return checks


def contrast_warnings(branding) -> list[ContrastCheck]:
    return [check for check in contrast_checks(branding) if not check.passes]


# --- input --------------------------------------------------------------------------------


def plain_text(value: object, *, field: str, label: str, limit: int, multiline: bool = False) -> str:
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
        name = plain_text(raw["store_name"], field="store_name", label="The store name", limit=STORE_NAME_MAX)
        if not name:
            raise InvalidInput("Enter a store name.", field="store_name")
        cleaned["store_name"] = name
    for field, label in COLOR_FIELDS.items():
        if field in raw:
            cleaned[field] = parse_hex(raw[field], field=field, label=label)
    if "support_email" in raw:
        email = plain_text(raw["support_email"], field="support_email", label="The support email", limit=SUPPORT_EMAIL_MAX)
        cleaned["support_email"] = _support_email(email) if email else ""
    if "footer_text" in raw:
        cleaned["footer_text"] = plain_text(
            raw["footer_text"], field="footer_text", label="The footer text", limit=FOOTER_TEXT_MAX, multiline=True
        )
    return cleaned


def _support_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(
            f"The support email '{email[:80]}' is not a valid email address: {exc}", field="support_email"
        ) from None


_BLANK_LINES = re.compile(r"\n{3,}")


def clean_terms(body: object) -> str:
    """Terms of use as the store shows them: plain text, at most one blank line in a row, not empty."""
    text = plain_text(body, field="terms", label="The terms of use", limit=TERMS_MAX, multiline=True)
    text = _BLANK_LINES.sub("\n\n", text)
    if not text:
        raise InvalidInput("Write the terms of use before publishing them.", field="terms")
    return text
