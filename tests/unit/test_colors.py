"""Colours: '#rrggbb' parsing, WCAG contrast and the text colour picked for a background."""

from __future__ import annotations

import pytest

from app.domain.colors import (
    INK,
    WHITE,
    best_text_color,
    contrast_ratio,
    meets_aa,
    muted_text_color,
    parse_hex,
    relative_luminance,
)
from app.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("written", "parsed"),
    [("#1A2b3C", "#1a2b3c"), ("1a2b3c", "#1a2b3c"), ("  #ABCDEF ", "#abcdef"), ("#abc", "#aabbcc"), ("fff", "#ffffff")],
)
def test_a_hex_colour_is_normalised_to_lower_case_rrggbb(written, parsed):
    assert parse_hex(written) == parsed


@pytest.mark.parametrize(
    "written", ["", "red", "#12345", "#1234567", "#ggg000", "rgb(0,0,0)", "#12 345", "#fff;}body{", None, 123, "##123456"]
)
def test_a_malformed_colour_is_refused_with_a_message_naming_the_field(written):
    with pytest.raises(InvalidInput) as refused:
        parse_hex(written, field="primary_color", label="The primary colour")
    assert refused.value.field == "primary_color"
    assert refused.value.message.startswith("The primary colour must be a colour written like #1a2b3c")


def test_relative_luminance_runs_from_black_to_white():
    assert relative_luminance("#000000") == 0
    assert relative_luminance("#ffffff") == pytest.approx(1)
    # The WCAG formula's channel weights: green counts most, blue least.
    assert relative_luminance("#00ff00") == pytest.approx(0.7152)
    assert relative_luminance("#0000ff") == pytest.approx(0.0722)
    assert relative_luminance("#808080") == pytest.approx(0.2158605, abs=1e-6)


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#767676", "#ffffff", 4.54),  # the classic lightest grey that passes AA on white
        ("#777777", "#ffffff", 4.48),  # ...and the one that doesn't
        ("#1f6feb", "#ffffff", 4.63),
        ("#f59e0b", "#ffffff", 2.15),
    ],
)
def test_contrast_ratio_matches_the_wcag_figures_either_way_round(first, second, ratio):
    assert contrast_ratio(first, second) == pytest.approx(ratio, abs=0.01)
    assert contrast_ratio(second, first) == pytest.approx(ratio, abs=0.01)


def test_aa_for_normal_text_needs_four_and_a_half_to_one():
    assert meets_aa("#767676", "#ffffff")
    assert not meets_aa("#777777", "#ffffff")


@pytest.mark.parametrize(
    ("background", "text"),
    [("#ffffff", INK), ("#fef3c7", INK), ("#f59e0b", INK), ("#000000", WHITE), ("#1f6feb", WHITE), ("#5b21b6", WHITE)],
)
def test_the_text_colour_picked_is_the_one_that_contrasts_most(background, text):
    assert best_text_color(background) == text
    other = WHITE if text == INK else INK
    assert contrast_ratio(text, background) >= contrast_ratio(other, background)


def test_muted_text_stays_readable_on_light_and_dark_backgrounds_or_falls_back_to_plain_text():
    for background in ("#ffffff", "#f6f7f9", "#111827", "#000000"):
        assert meets_aa(muted_text_color(background), background)
    # On a mid grey neither grey reaches AA: notes take the full text colour instead.
    assert muted_text_color("#808080") == best_text_color("#808080")
