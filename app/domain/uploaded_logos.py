"""A partner's uploaded logo: checked by its content, then re-encoded as a clean PNG. Bytes in, bytes out.

(Generated brand logos, the SVG tiles, are app/domain/logos.py's.)
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from app.domain.errors import InvalidInput

LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4096
LOGO_MAX_PIXELS = LOGO_MAX_SIDE * LOGO_MAX_SIDE  # decoded size; a small file can still unpack into a huge image
# Pillow's own guard (this module is the app's only Pillow user): past this many pixels Image.open
# warns, past twice as many it refuses, before any pixel is decoded. clean_logo refuses past it anyway.
Image.MAX_IMAGE_PIXELS = LOGO_MAX_PIXELS
LOGO_BOX = (512, 160)  # the stored logo fits in this, keeping its proportions
LOGO_FORMATS = ("PNG", "JPEG", "WEBP")
NOT_AN_IMAGE = "The logo must be a PNG, JPEG or WebP image, and this file isn't one."
TOO_MANY_PIXELS = f"it can be at most {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} ({LOGO_MAX_PIXELS / 1e6:.1f} megapixels)."


@dataclass(frozen=True)
class Logo:
    png: bytes
    width: int
    height: int


def clean_logo(data: bytes) -> Logo:
    """Check an uploaded logo by its content and re-encode it as a PNG with no metadata, fit to LOGO_BOX.

    The file name and the browser's content type are not trusted: only Pillow reading a PNG,
    JPEG or WebP counts. SVG (it can carry script) and everything else is refused.
    """
    if not data:
        raise InvalidInput("Choose an image file for the logo.", field="logo")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(f"The logo file is {len(data) / (1024 * 1024):.1f} MB; it can be at most 1 MB.", field="logo")
    head = data[:512].lstrip().lower()
    if head.startswith(b"<") or b"<svg" in head:
        raise InvalidInput("SVG and other text files can't be logos: upload a PNG, JPEG or WebP image.", field="logo")
    try:
        # Image.open reads only the header: the size is known (and checked) before anything is decoded.
        with Image.open(BytesIO(data), formats=LOGO_FORMATS) as probe:
            width, height = probe.size
            if width * height > LOGO_MAX_PIXELS:
                raise InvalidInput(f"The logo is {width}×{height} pixels; {TOO_MANY_PIXELS}", field="logo")
            probe.verify()  # the whole file, not only its header
        with Image.open(BytesIO(data), formats=LOGO_FORMATS) as image:
            image.load()  # the first frame of an animation
            upright = ImageOps.exif_transpose(image)
            transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            pixels = upright.convert("RGBA" if transparent else "RGB")
    except InvalidInput:
        raise
    except Image.DecompressionBombError:  # Pillow's guard, at open: the header claims far too many pixels
        raise InvalidInput(f"The logo has more pixels than a logo may have; {TOO_MANY_PIXELS}", field="logo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidInput(NOT_AN_IMAGE, field="logo") from None
    # A new image from the bare pixels: no EXIF, ICC profile, text chunks or anything appended to the file.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    clean.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    out = BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return Logo(out.getvalue(), clean.width, clean.height)
