"""A gift message: any printable Unicode, joiners and all; only controls and bidi overrides refused, by name;
the limit counted in code points, as the checkout's counter counts, and explained."""

import pytest

from app.domain.text import message_length, message_refusal

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl: 5 code points
WAVE_DARK = "\U0001f44b\U0001f3ff"  # waving hand + skin tone
HEART = "\u2764\ufe0f"  # heart + VARIATION SELECTOR-16
TECHNOLOGIST = "\U0001f469\U0001f3fd\u200d\U0001f4bb"  # woman, medium skin tone, ZWJ, laptop
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # with ZERO WIDTH NON-JOINER
FLAG_SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # tag characters


@pytest.mark.parametrize(
    "message",
    [FAMILY, WAVE_DARK, HEART, TECHNOLOGIST, PERSIAN, FLAG_SCOTLAND, "Line one\nLine two", "क्षत्रिय", "שלום עולם", "\u00a0"],
)
def test_any_printable_unicode_is_welcome(message):
    assert message_refusal(message, limit=300) is None


@pytest.mark.parametrize(
    "message, named",
    [
        ("evil\u202egpj.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("isolate\u2066x", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("bell\x07", "U+0007 (a control character)"),
        ("tab\there", "U+0009 (a control character)"),
        ("nel\x85", "U+0085 (a control character)"),
    ],
)
def test_control_characters_and_bidi_overrides_are_refused_by_name(message, named):
    assert message_refusal(message, limit=300) == f"The message contains {named}, which is not allowed."


def test_the_limit_counts_code_points_and_says_by_how_much_it_is_over():
    assert message_length(FAMILY) == 5
    assert message_length(TECHNOLOGIST) == 4
    assert message_refusal("x" * 295 + FAMILY, limit=300) is None
    refusal = message_refusal("x" * 296 + FAMILY, limit=300)
    assert refusal is not None
    assert "has 301 characters" in refusal and "at most 300 characters" in refusal and "by 1." in refusal
