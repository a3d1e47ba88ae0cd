import xml.etree.ElementTree as ET

import pytest

from app.demo_brands import DEMO_BRANDS
from app.domain.errors import InvalidInput
from app.domain.logos import (
    DARK,
    SHAPES,
    WHITE,
    brand_logo_svg,
    contrast_ratio,
    initials,
    pick_shape,
    readable_text_color,
)

SVG = "{http://www.w3.org/2000/svg}"
MAX_BYTES = 1500


def _logos() -> list[tuple[str, str]]:
    brands = [(b.name, b.logo_svg()) for b in DEMO_BRANDS]
    shapes = [(f"Shape {s}", brand_logo_svg("Shape Test", color="#336699", shape=s)) for s in SHAPES]
    return brands + shapes


def _text(svg: str) -> str:
    return ET.fromstring(svg).find(f"{SVG}text").text


@pytest.mark.parametrize(("name", "svg"), _logos(), ids=[name for name, _ in _logos()])
def test_every_logo_is_well_formed_svg_under_one_and_a_half_kilobytes(name, svg):
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 120 80"
    assert len(svg.encode("utf-8")) < MAX_BYTES


@pytest.mark.parametrize(("name", "svg"), _logos(), ids=[name for name, _ in _logos()])
def test_no_logo_has_scripts_foreign_objects_or_external_references(name, svg):
    for element in ET.fromstring(svg).iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in {"script", "foreignObject", "image", "use", "a", "style"}
        assert element.tag.startswith(SVG), "only SVG elements"
        for attribute, value in element.attrib.items():
            assert "href" not in attribute
            assert not attribute.startswith("on")
            assert "url(" not in value and "//" not in value
    assert "<script" not in svg.lower()


def test_the_logo_shows_the_initials_on_a_tile_in_the_brand_colour():
    svg = brand_logo_svg("Northwind Books", color="#7C2D12")
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}rect").get("fill") == "#7c2d12"
    assert root.find(f"{SVG}rect").get("rx")
    assert _text(svg) == "NB"
    assert root.find(f"{SVG}text").get("fill") == WHITE
    assert "sans-serif" in root.find(f"{SVG}text").get("font-family")
    assert root.find(f"{SVG}title").text == "Northwind Books"


def test_the_text_colour_follows_the_background():
    assert ET.fromstring(brand_logo_svg("Sunny", color="#fde68a")).find(f"{SVG}text").get("fill") == DARK
    assert ET.fromstring(brand_logo_svg("Night", color="#0f172a")).find(f"{SVG}text").get("fill") == WHITE


def test_special_characters_in_names_are_escaped():
    name = 'Tom & <Jerry\'s> "Bar"'
    svg = brand_logo_svg(name, color="#336699", text="A&<B>")
    assert "<Jerry" not in svg and "&amp;" in svg and "&lt;" in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == name
    assert _text(svg) == "A&<B>"


def test_a_name_without_letters_still_gets_an_escaped_mark():
    svg = brand_logo_svg("<&>", color="#336699")
    assert _text(svg) == "<"
    assert ET.fromstring(svg).find(f"{SVG}title").text == "<&>"


def test_a_very_long_name_keeps_the_logo_small():
    svg = brand_logo_svg("&" * 500, color="#336699", text="&" * 50)
    assert len(svg.encode("utf-8")) < MAX_BYTES
    ET.fromstring(svg)


def test_initials_take_up_to_three_words_and_skip_symbols():
    assert initials("Northwind Books") == "NB"
    assert initials("Maple & Mortar Bakery") == "MMB"
    assert initials("the house of tea and cake") == "HTC"
    assert initials("Zest") == "Z"


def test_the_shape_is_picked_deterministically_from_the_name_and_can_be_chosen():
    assert pick_shape("Northwind Books") == pick_shape("Northwind Books") in SHAPES
    assert len({pick_shape(b.name) for b in DEMO_BRANDS}) == len(SHAPES)
    assert brand_logo_svg("Northwind Books", color="#7c2d12") == brand_logo_svg("Northwind Books", color="#7c2d12")
    assert brand_logo_svg("X", color="#7c2d12", shape="circle") != brand_logo_svg("X", color="#7c2d12", shape="square")


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "123456", "#1234567", ""])
def test_colours_that_are_not_rrggbb_are_refused(color):
    with pytest.raises(InvalidInput):
        brand_logo_svg("Northwind Books", color=color)


def test_an_unknown_shape_or_a_blank_name_is_refused():
    with pytest.raises(InvalidInput):
        brand_logo_svg("Northwind Books", color="#7c2d12", shape="star")
    with pytest.raises(InvalidInput):
        brand_logo_svg("   ", color="#7c2d12")


@pytest.mark.parametrize("color", ["#000000", "#111111", "#1e3a8a", "#7c2d12", "#6d28d9", "#0f172a"])
def test_readable_text_color_picks_white_on_dark_colours(color):
    assert readable_text_color(color) == WHITE


@pytest.mark.parametrize("color", ["#ffffff", "#fde68a", "#facc15", "#22d3ee", "#f5f5dc", "#fbcfe8"])
def test_readable_text_color_picks_dark_text_on_light_colours(color):
    assert readable_text_color(color) == DARK


@pytest.mark.parametrize("color", ["#000000", "#ffffff", "#777777", "#ea580c", "#16a34a", "#0284c7"])
def test_readable_text_color_is_the_one_with_the_better_contrast(color):
    other = DARK if readable_text_color(color) == WHITE else WHITE
    assert contrast_ratio(color, readable_text_color(color)) >= contrast_ratio(color, other)


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
