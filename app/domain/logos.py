"""Generated brand logos: a small, self-contained SVG tile per brand. Pure Python, no I/O.

The SVG has no ids, scripts, external references or <foreignObject>, so it is safe to inline
many of them in one page or to serve them as `image/svg+xml`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal
from xml.sax.saxutils import escape

from app.domain.colors import contrast_ratio
from app.domain.errors import InvalidInput

WHITE: Final = "#ffffff"
DARK: Final = "#111827"  # Tailwind gray-900

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_STOP_WORDS = frozenset({"and", "the", "of", "for"})
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_TITLE_MAX = 80

# Marks are drawn centred on the 120x80 tile, behind the text, in the text colour at low opacity.
_MARKS: dict[str, str] = {
    "circle": '<circle cx="60" cy="40" r="29"/>',
    "ring": '<circle cx="60" cy="40" r="26" fill="none" stroke="{fg}" stroke-width="7"/>',
    "diamond": '<path d="M60 6 94 40 60 74 26 40Z"/>',
    "triangle": '<path d="M60 7 97 71H23Z"/>',
    "hexagon": '<path d="M44 11h32l16 29-16 29H44L28 40Z"/>',
    "square": '<rect x="31" y="11" width="58" height="58" rx="10"/>',
}
SHAPES: tuple[str, ...] = tuple(_MARKS)


def _check_color(hex_color: str) -> str:
    if not isinstance(hex_color, str) or not _HEX.match(hex_color):
        raise InvalidInput(f"colour '{hex_color}' must be written as #rrggbb", field="color")
    return hex_color.lower()


def readable_text_color(hex_color: str) -> Literal["#ffffff", "#111827"]:
    """White or near-black, whichever contrasts more with `hex_color` (white on a tie)."""
    if contrast_ratio(hex_color, WHITE) >= contrast_ratio(hex_color, DARK):
        return WHITE
    return DARK


def initials(name: str) -> str:
    """'Northwind Books' -> 'NB', 'Maple & Mortar Bakery' -> 'MMB', 'Zest' -> 'Z' (at most 3)."""
    words = [w for w in name.split() if w[:1].isalnum() and w.lower() not in _STOP_WORDS]
    if not words:
        stripped = name.strip()
        return stripped[:1] or "?"
    return "".join(w[0] for w in words[:3]).upper()


def pick_shape(name: str) -> str:
    """A shape chosen from the name, the same on every run (not Python's salted hash())."""
    digest = hashlib.sha256(name.strip().casefold().encode("utf-8")).digest()
    return SHAPES[int.from_bytes(digest[:8], "big") % len(SHAPES)]


def brand_logo_svg(name: str, *, color: str, shape: str | None = None, text: str | None = None) -> str:
    """An SVG logo: a rounded tile in `color`, a geometric mark and the initials (or `text`).

    `shape` is one of SHAPES; by default it is picked from the name. The name becomes the
    <title>, so the image has an accessible name.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a logo needs a brand name", field="name")
    background = _check_color(color)
    if shape is None:
        shape = pick_shape(name)
    if shape not in _MARKS:
        raise InvalidInput(f"shape must be one of {', '.join(SHAPES)}", field="shape")
    label = (text if text is not None else initials(name)).strip()[:6] or "?"
    fg = readable_text_color(background)
    title = name.strip()
    if len(title) > _TITLE_MAX:
        title = title[: _TITLE_MAX - 1] + "…"
    size = {1: 34, 2: 30, 3: 26, 4: 21}.get(len(label), 17)
    mark = _MARKS[shape].format(fg=fg)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 80" width="120" height="80" role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect width="120" height="80" rx="12" fill="{background}"/>'
        f'<g fill="{fg}" opacity="0.2">{mark}</g>'
        f'<text x="60" y="40" dy=".35em" text-anchor="middle" font-family="{_FONT}" '
        f'font-size="{size}" font-weight="700" fill="{fg}">{escape(label)}</text>'
        "</svg>"
    )
