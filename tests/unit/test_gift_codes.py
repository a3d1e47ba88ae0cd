"""The gift page's barcode and QR code (app/domain/gift_codes.py): drawn as SVG with no style attribute, and read
back by a real barcode reader (zxing-cpp) as the card's number, as a till's scanner would."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from app.domain.gift_codes import code128_svg, qr_svg, scannable

NUMBER = "6012 3456 7890 1234"


def _viewbox(svg: str) -> tuple[int, int]:
    width, height = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups()
    return int(width), int(height)


def draw_barcode(svg: str, scale: int = 3) -> Image.Image:
    """The SVG's bars (`M{x} 0h{w}v{h}h-{w}z`) on white, `scale` pixels a module."""
    width, height = _viewbox(svg)
    image = Image.new("L", (width * scale, height * scale), 255)
    pen = ImageDraw.Draw(image)
    path = re.search(r'<path fill="#000000" d="([^"]+)"', svg).group(1)
    for x, w, h in re.findall(r"M(\d+) 0h(\d+)v(\d+)h-\d+z", path):
        x, w, h = int(x), int(w), int(h)
        pen.rectangle([x * scale, 0, (x + w) * scale - 1, h * scale - 1], fill=0)
    return image


def draw_qr(svg: str, scale: int = 6) -> Image.Image:
    """segno's path: horizontal strokes one module high ('M x y.5 h n', relative 'm dx dy'), on white."""
    width, height = _viewbox(svg)
    image = Image.new("L", (width * scale, height * scale), 255)
    pen = ImageDraw.Draw(image)
    path = re.search(r'<path stroke="#000(?:000)?" d="([^"]+)"', svg)
    x = y = 0.0
    for command, args in re.findall(r"([MmHhVv])([-\d. ]+)", path.group(1)):
        values = [float(v) for v in args.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        elif command == "h":
            row = int(y)  # a stroke at y + .5 covers row y
            pen.rectangle([int(x * scale), row * scale, int((x + values[0]) * scale) - 1, (row + 1) * scale - 1], fill=0)
            x += values[0]
        else:
            raise AssertionError(f"unexpected path command {command}")
    return image


def read(image: Image.Image) -> list[tuple[str, str]]:
    return [(result.format.name, result.text) for result in zxingcpp.read_barcodes(image)]


def test_the_barcode_reads_back_as_the_card_number_in_code_128():
    assert read(draw_barcode(code128_svg(NUMBER))) == [("Code128", "6012345678901234")]


@pytest.mark.parametrize("number", ["6012 3456 7890 1234", "4000-1234-5678-9", "AB12CD34"])
def test_the_qr_code_reads_back_as_the_card_number(number):
    assert read(draw_qr(qr_svg(number))) == [("QRCode", scannable(number))]


def test_the_codes_need_no_inline_style_and_name_themselves_for_screen_readers():
    for svg in (code128_svg(NUMBER), qr_svg(NUMBER)):
        assert "style" not in svg and "<script" not in svg
        assert re.match(r'<svg [^>]*role="img" aria-label="[^"]+"', svg)
    assert scannable(" 6012 3456-7890 ") == "601234567890"
    with pytest.raises(ValueError):
        code128_svg("  ")
