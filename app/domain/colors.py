"""Colours as partners pick them for their store: '#rrggbb' values, WCAG 2 contrast, readable text.

Pure Python. The store and its emails put text on the partner's primary and background colours;
the text colour is picked here so it reads, and the editor warns when even the best pick falls
below WCAG AA for normal text (4.5:1).
"""

from __future__ import annotations

import re

from app.domain.errors import InvalidInput

WHITE = "#ffffff"
INK = "#1f2328"  # the store's text colour on light surfaces
MUTED_ON_LIGHT = "#5b6470"
MUTED_ON_DARK = "#c2c8d0"
AA_NORMAL_TEXT = 4.5
AA_NON_TEXT = 3.0  # WCAG 2.1 SC 1.4.11: what draws a control or the focus ring against what is next to it

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def parse_hex(value: object, *, field: str = "color", label: str = "The colour") -> str:
    """'#1A2b3C', '1a2b3c' or '#abc' -> '#1a2b3c'. Anything else is refused with a message naming `label`."""
    text = value.strip() if isinstance(value, str) else ""
    match = _HEX.fullmatch(text)
    if not match:
        shown = text[:20] if text else "nothing"
        raise InvalidInput(f"{label} must be a colour written like #1a2b3c, not {shown!r}.", field=field)
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of a colour, from 0 (black) to 1 (white)."""
    value = parse_hex(color)

    def channel(part: str) -> float:
        c = int(part, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(value[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio between two colours, from 1 (same) to 21 (black on white); order doesn't matter."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def meets_aa(foreground: str, background: str) -> bool:
    """Whether normal-size text in `foreground` on `background` meets WCAG AA (4.5:1)."""
    return contrast_ratio(foreground, background) >= AA_NORMAL_TEXT


def best_text_color(background: str, candidates: tuple[str, ...] = (INK, WHITE)) -> str:
    """The candidate that contrasts most with `background` (the first one on a tie)."""
    return max(candidates, key=lambda candidate: (contrast_ratio(candidate, background), -candidates.index(candidate)))


def muted_text_color(background: str) -> str:
    """A quieter colour for notes on `background`: a grey when one still meets AA, else the plain text colour."""
    grey = best_text_color(background, (MUTED_ON_LIGHT, MUTED_ON_DARK))
    return grey if meets_aa(grey, background) else best_text_color(background)
