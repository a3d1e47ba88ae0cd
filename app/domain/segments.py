"""Segments: the tags a partner puts on its consumers ("vip", "new-york", "2026_hires"), and the rules that
use them: which consumers a campaign is for, and which consumers a brand's bonus is for. Pure rules: no
database, no Flask.

A tag is 1-40 letters, digits, - or _, kept in lower case ("VIP " and "vip" are one tag); a consumer has at
most TAGS_PER_CONSUMER of them. A text of several tags (a CSV cell, a form field) separates them with ";",
"," or spaces.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

from app.domain.errors import InvalidInput

TAG_MAX = 40
TAGS_PER_CONSUMER = 20
_TAG = re.compile(r"^[a-z0-9_-]{1,40}$")
_SEPARATORS = re.compile(r"[;,\s]+")
TAG_RULE = f"A tag is 1-{TAG_MAX} letters, digits, - or _ (no spaces)"


def clean_tag(value: str, *, field: str = "tag") -> str:
    """One tag, trimmed and in lower case; InvalidInput naming the tag when it breaks the rule."""
    tag = str(value if value is not None else "").strip().lower()
    if not tag:
        raise InvalidInput(f"{TAG_RULE}: this one is empty.", field=field)
    if not _TAG.match(tag):
        shown = tag if len(tag) <= 60 else tag[:57] + "..."
        raise InvalidInput(f"{TAG_RULE}: '{shown}' is not one.", field=field)
    return tag


def clean_tags(values: Iterable[str], *, field: str = "tags") -> list[str]:
    """Tags cleaned, without repeats, in the order given; at most TAGS_PER_CONSUMER."""
    cleaned = list(dict.fromkeys(clean_tag(value, field=field) for value in values))
    check_count(cleaned, field=field)
    return cleaned


def check_count(tags: Collection[str], *, field: str = "tags") -> None:
    if len(tags) > TAGS_PER_CONSUMER:
        raise InvalidInput(f"A consumer can have at most {TAGS_PER_CONSUMER} tags ({len(tags)} given).", field=field)


def parse_tags(text: str, *, field: str = "tags") -> list[str]:
    """The tags in a text such as "vip; new-york" (separated by ;, commas or spaces); empty text: none."""
    return clean_tags([part for part in _SEPARATORS.split(text or "") if part], field=field)


def optional_tag(value: str | None, *, field: str = "tag") -> str | None:
    """A setting that is one tag or none (blank or None: none)."""
    if value is None or not str(value).strip():
        return None
    return clean_tag(value, field=field)


# --- who a campaign is for -------------------------------------------------------------------


def matches_eligibility(
    tags: Collection[str], created_at: datetime, *, eligible_tag: str | None, created_after: datetime | None
) -> bool:
    """Whether a consumer with `tags`, created at `created_at`, is one of "everyone with tag T (created after D)".
    A campaign without a tag is for the consumers chosen by hand: nobody matches it by their tags."""
    if not eligible_tag:
        return False
    return eligible_tag in tags and (created_after is None or created_at > created_after)


def check_eligibility(eligible_tag: str | None, created_after: datetime | None) -> None:
    if created_after is not None and not eligible_tag:
        raise InvalidInput(
            "'Created after' narrows everyone with a tag: choose the tag too, or leave the date out.",
            field="eligible_created_after",
        )


def member_is_eligible(*, removed_at: datetime | None, ineligible_at: datetime | None) -> bool:
    """Whether a campaign member still gets the campaign's later allocations (e.g. a recurring period's):
    not removed, and not marked ineligible (they lost the campaign's tag, or no longer match its date).
    What they were given stays theirs either way."""
    return removed_at is None and ineligible_at is None


# --- who a bonus is for -----------------------------------------------------------------------


def bonus_applies(segment: str | None, tags: Collection[str] | None) -> bool:
    """Whether a brand's bonus for `segment` (blank: everyone) applies to a consumer with `tags`.
    No tags known (None: not a consumer's view, e.g. a preview) means only bonuses for everyone."""
    if not segment:
        return True
    return tags is not None and segment in tags
