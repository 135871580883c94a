"""Text in images (Tesseract via pytesseract, English, Arabic and Russian by default), so
screenshots and posters feed the same text signals and entity detector as posts.

Off unless an organisation turns it on (``service.set_ocr``). Size and pixel limits are
checked before any decoding, as for every other hostile input.
"""

from __future__ import annotations

import io

import pytesseract
from PIL import Image, ImageOps, UnidentifiedImageError

from countersignal.errors import ContentTooLarge, Unavailable, UnsupportedContent
from countersignal.settings import get_settings

DEFAULT_LANGUAGES = "eng+ara+rus"
_UPSCALE_BELOW_PX = 250  # images this short are enlarged 4×: Tesseract reads ~30 px letters best
_UPSCALE = 4


def ocr_image(data: bytes, *, languages: str = DEFAULT_LANGUAGES, timeout_s: int = 60) -> str:
    """The text Tesseract reads in the image ``data``."""
    limits = get_settings().limits
    if len(data) > limits.max_image_bytes:
        raise ContentTooLarge(f"image is larger than {limits.max_image_bytes} bytes")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > limits.max_image_pixels:
            raise ContentTooLarge(f"image has more than {limits.max_image_pixels} pixels")
        image = ImageOps.exif_transpose(image).convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UnsupportedContent(f"not a readable image: {exc}") from exc
    if image.height < _UPSCALE_BELOW_PX:
        image = image.resize((image.width * _UPSCALE, image.height * _UPSCALE), Image.LANCZOS)
    try:
        return pytesseract.image_to_string(image, lang=languages, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise Unavailable("tesseract is not installed") from exc
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        raise Unavailable(f"OCR did not finish in {timeout_s} s") from exc
