"""A logo is refused by the pixel count its header claims, before Pillow decodes a single pixel."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from app.domain import uploaded_logos
from app.domain.errors import InvalidInput


def png_claiming(width: int, height: int) -> bytes:
    """A real 8×8 PNG whose IHDR (with a correct CRC) says it is width×height: a few dozen bytes."""
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def refuse_to_decode(monkeypatch):
    """From here on, decoding any pixels fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"decoded a {self.size} image")

    for owner in (Image.Image, ImageFile.ImageFile):
        monkeypatch.setattr(owner, "load", refuse)
    monkeypatch.setattr(Image.Image, "convert", refuse)


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (65_535, 65_535), (4097, 4096), (20_000, 1000)])
def test_a_png_whose_header_claims_too_many_pixels_gets_a_clear_error_without_being_decoded(monkeypatch, width, height):
    data = png_claiming(width, height)
    assert len(data) < 200
    refuse_to_decode(monkeypatch)
    with pytest.raises(InvalidInput) as refused:
        uploaded_logos.clean_logo(data)
    assert refused.value.field == "logo"
    assert "it can be at most 4096×4096 (16.8 megapixels)" in refused.value.message
    assert "isn't one" not in refused.value.message  # a size problem, not "not an image"


def test_a_logo_of_exactly_the_limit_is_not_refused_for_its_size():
    with pytest.raises(InvalidInput) as refused:
        uploaded_logos.clean_logo(png_claiming(4096, 4096))  # passes the size check; its data is only 8×8, so it is broken
    assert "at most 4096×4096" not in refused.value.message


def test_pillows_own_guard_is_set_to_the_logo_limit():
    assert Image.MAX_IMAGE_PIXELS == uploaded_logos.LOGO_MAX_PIXELS == 4096 * 4096


def test_an_ordinary_logo_is_still_accepted():
    out = io.BytesIO()
    Image.new("RGB", (600, 200), "#1f6feb").save(out, format="PNG")
    logo = uploaded_logos.clean_logo(out.getvalue())
    assert (logo.width, logo.height) == (480, 160)
