"""What people may type into a name, a label or a message.

Every script and every emoji is welcome, with the invisible characters they are written with:
ZERO WIDTH NON-JOINER and JOINER (U+200C, U+200D: Persian names such as "Hasan-zadeh" written with
a non-joiner, Hindi conjuncts, emoji sequences such as woman + ZWJ + laptop), variation selectors, skin tones, the tags of subdivision flags, and
characters newer than this Python's Unicode tables. Refused are only those that change how
*other* text is shown: control characters (C0 and C1), the bidirectional embeddings, overrides
and isolates (U+202A-U+202E, U+2066-U+2069: RIGHT-TO-LEFT OVERRIDE + "gpj.exe" shows as "exe.jpg"), and lone surrogates
(half a character, which no database stores).
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def character_name(character: str) -> str:
    """'U+202E RIGHT-TO-LEFT OVERRIDE'; for a character without a name, what kind it is."""
    code = f"U+{ord(character):04X}"
    name = unicodedata.name(character, "")
    if name:
        return f"{code} {name}"
    if unicodedata.category(character) == "Cc":
        return f"{code} (a control character)"
    if unicodedata.category(character) == "Cs":
        return f"{code} (half of a surrogate pair)"
    return code


def disallowed_character(text: str, *, allowed: str = "") -> str | None:
    """The first character of `text` that is not allowed (`allowed` lets some through, e.g. a line break)."""
    for character in text:
        if character in allowed:
            continue
        if character in BIDI_CONTROLS or unicodedata.category(character) in ("Cc", "Cs"):
            return character
    return None


def character_refusal(text: str, *, allowed: str = "") -> str | None:
    """'contains U+202E RIGHT-TO-LEFT OVERRIDE, which is not allowed' for the first such character, or None."""
    character = disallowed_character(text, allowed=allowed)
    if character is None:
        return None
    return f"contains {character_name(character)}, which is not allowed"


def message_length(text: str) -> int:
    """How many characters a message has, as the checkout's counter counts them (static/app.js, data-count-max):
    code points, so an emoji built of several (a family joined with U+200D, a skin tone, a variation selector)
    counts as each of them."""
    return len(text)


def message_refusal(text: str, *, limit: int) -> str | None:
    """Why a gift message (line breaks as "\\n", spaces around it removed) won't do, in a sentence; or None."""
    length = message_length(text)
    if length > limit:
        return (
            f"The message has {length} characters; it can be at most {limit} characters "
            "(an emoji can count as several). Shorten it by "
            f"{length - limit}."
        )
    problem = character_refusal(text, allowed="\n")
    return f"The message {problem}." if problem else None
