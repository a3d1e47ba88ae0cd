"""A gift card's number as a till scans it: a Code 128 barcode and a QR code, both as SVG made here.

python-barcode encodes Code 128 (the bars as modules, '1' black) and segno the QR code; the SVG is written
with presentation attributes only (fill, stroke), never a `style` attribute or element, so it can sit inline
in a page under a Content-Security-Policy without 'unsafe-inline'. Pure: a number in, markup out.
"""

from __future__ import annotations

import re
from html import escape

import segno
from barcode import Code128

QUIET_ZONE = 10  # modules of white each side of a Code 128 symbol (the standard asks for at least 10)
BAR_HEIGHT = 50  # in modules: about 1:4 for a 16-digit number, easy for a handheld scanner


def scannable(number: str) -> str:
    """What the codes carry: the number without the spaces and dashes it is printed with ('6012 3456' -> '60123456')."""
    return re.sub(r"[\s-]+", "", number)


def code128_svg(number: str, *, label: str = "Barcode of the card number") -> str:
    """The number as a Code 128 barcode: one <path> of black bars on a white field, scalable (viewBox)."""
    data = scannable(number)
    if not data:
        raise ValueError("nothing to encode")
    modules = "".join(Code128(data).build())
    width = len(modules) + 2 * QUIET_ZONE
    bars = []
    x = QUIET_ZONE
    for run in re.finditer(r"1+|0+", modules):
        length = len(run.group())
        if run.group()[0] == "1":
            bars.append(f"M{x} 0h{length}v{BAR_HEIGHT}h-{length}z")
        x += length
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {width} {BAR_HEIGHT}" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(label)}">'
        f'<rect width="{width}" height="{BAR_HEIGHT}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(bars)}"/></svg>'
    )


def qr_svg(number: str, *, label: str = "QR code of the card number") -> str:
    """The number as a QR code (error correction M, a 4-module quiet zone), scalable (viewBox, no fixed size)."""
    data = scannable(number)
    if not data:
        raise ValueError("nothing to encode")
    svg = segno.make(data, error="m", micro=False).svg_inline(
        border=4, omitsize=True, svgclass="qrcode", lineclass=None, dark="#000000", light="#ffffff"
    )
    # segno writes <svg xmlns=... class="qrcode" viewBox=...>: name it for screen readers.
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
