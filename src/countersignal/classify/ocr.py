"""Text in images (Tesseract via pytesseract, English, Arabic and Russian by default), so
screenshots and posters feed the same text signals and entity detector as posts.

Off unless an organisation turns it on (``service.set_ocr``). Size and pixel limits are
checked before any decoding, as for every other hostile input.
"""

from __future__ import annotations

import pytesseract
from PIL import Image

from countersignal.errors import Unavailable, UnsupportedContent
from countersignal.signals.pdq import open_image

DEFAULT_LANGUAGES = "eng+ara+rus"
_UPSCALE_BELOW_PX = 250  # images this short are enlarged 4×: Tesseract reads ~30 px letters best
_UPSCALE = 4


def ocr_image(data: bytes, *, languages: str = DEFAULT_LANGUAGES, timeout_s: int = 60) -> str:
    """The text Tesseract reads in the image ``data``."""
    # the same hostile-input checks as hashing: size, pixel count before decoding, any decoder
    # failure a clear UnsupportedContent; upright as displayed
    image = open_image(data)
    try:
        image = image.convert("L")
    except ValueError as exc:
        reason = f"cannot read text in an image of mode {image.mode}: {exc}"
        raise UnsupportedContent(reason) from None
    if image.height < _UPSCALE_BELOW_PX:
        image = image.resize((image.width * _UPSCALE, image.height * _UPSCALE), Image.LANCZOS)
    try:
        return pytesseract.image_to_string(image, lang=languages, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise Unavailable("tesseract is not installed") from exc
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        raise Unavailable(f"OCR did not finish in {timeout_s} s") from exc
