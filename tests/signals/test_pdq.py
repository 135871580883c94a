"""PDQ hashing: every Pillow mode, EXIF orientation, dihedral transforms, quality, packing."""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image

from countersignal.signals.pdq import (
    DIHEDRAL_TRANSFORMS,
    PDQ,
    hash_image,
    hex_to_words,
    pixels_for_pdq,
    words_to_hex,
)

T = Image.Transpose
# How to turn the original into the image whose plain hash each dihedral slot predicts.
TRANSFORM_OPS = {
    "original": [],
    "rot90": [T.ROTATE_90],
    "rot180": [T.ROTATE_180],
    "rot270": [T.ROTATE_270],
    "flipx": [T.FLIP_TOP_BOTTOM],
    "flipy": [T.FLIP_LEFT_RIGHT],
    "flip_plus1": [T.TRANSPOSE],
    "flip_minus1": [T.TRANSVERSE],
}


def _hash(image: Image.Image) -> str:
    return hash_image(image)[0].value


def _png(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def test_rgb_hash_equals_pytx_and_quality_is_kept(make_photo) -> None:
    """Same hash as python-threatexchange's hasher, so hashes exchange with HMA unchanged."""
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    data = _png(make_photo(1))
    ours = hash_image(data)[0]
    theirs, quality = pdq_from_bytes(data)
    assert ours.value == theirs
    assert ours.quality == quality >= 50
    assert "unreliable" not in ours.meta


def _modes(rgb: Image.Image) -> dict[str, Image.Image]:
    grey = np.asarray(rgb.convert("L"))
    alpha = Image.new("L", rgb.size, 255)
    return {
        "1": rgb.convert("1"),
        "L": rgb.convert("L"),
        "LA": rgb.convert("LA"),
        "La": Image.merge("La", (rgb.convert("L"), alpha)),
        "P": rgb.convert("P"),
        "PA": rgb.convert("P").convert("PA"),
        "RGBA": rgb.convert("RGBA"),
        "RGBa": rgb.convert("RGBa"),
        "CMYK": rgb.convert("CMYK"),
        "YCbCr": rgb.convert("YCbCr"),
        "HSV": rgb.convert("HSV"),
        "LAB": rgb.convert("LAB"),
        "I": rgb.convert("I"),
        "I;16": Image.fromarray(grey.astype(np.uint16) * 257),
        "I 16-bit range": Image.fromarray(grey.astype(np.int32) * 257),
        "F 0..1": Image.fromarray(grey.astype(np.float32) / 255),
        "F 0..255": Image.fromarray(grey.astype(np.float32)),
    }


@pytest.mark.parametrize("mode", list(_modes(Image.new("RGB", (4, 4)))))
def test_every_pillow_mode_matches_rgb(mode: str, make_photo) -> None:
    rgb = make_photo(2)
    converted = _modes(rgb)[mode]
    signal = hash_image(converted)[0]
    # "1" is dithered to black and white: it only has to still match.
    limit = PDQ.default_threshold if mode == "1" else 12
    assert PDQ.distance(signal.value, _hash(rgb)) <= limit, mode
    assert signal.quality >= 50


def test_alpha_is_composited_on_white(make_photo) -> None:
    rgb = make_photo(3)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.new("L", rgb.size, 0).point(lambda _: 0))  # fully transparent
    white = Image.new("RGB", rgb.size, "white")
    assert np.array_equal(pixels_for_pdq(rgba), np.asarray(white))


def test_float_nan_and_inf_do_not_crash(make_photo) -> None:
    values = np.asarray(make_photo(4).convert("L"), dtype=np.float32) / 255
    values[0, :10] = np.nan
    values[1, :10] = np.inf
    assert len(hash_image(Image.fromarray(values))[0].value) == 64


def test_exif_orientation_is_applied(make_photo) -> None:
    upright = make_photo(5, (300, 200))
    # Stored rotated; EXIF orientation 6 says "rotate 90° clockwise to display".
    stored = upright.transpose(T.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif)
    assert PDQ.distance(hash_image(buffer.getvalue())[0].value, _hash(upright)) <= 16
    assert PDQ.distance(_hash(stored), _hash(upright)) > 64


def test_dihedral_hashes_predict_transformed_images(make_photo) -> None:
    original = make_photo(6, (256, 192))
    signals = hash_image(original, dihedral=True)
    assert [s.meta.get("transform", "original") for s in signals] == list(DIHEDRAL_TRANSFORMS)
    assert signals[0].value == _hash(original)
    for signal in signals:
        transformed = original
        for op in TRANSFORM_OPS[signal.meta.get("transform", "original")]:
            transformed = transformed.transpose(op)
        # Not always exact: PDQ's box filters are not mirror-symmetric, so vertical flips
        # differ by a few bits (the reference photos in eval_reference.py show the same).
        assert PDQ.distance(signal.value, _hash(transformed)) <= PDQ.default_threshold


def test_flat_image_is_marked_unreliable() -> None:
    signal = hash_image(Image.new("RGB", (64, 64), (120, 130, 140)))[0]
    assert signal.quality < 50
    assert signal.meta == {"unreliable": True}


def test_different_images_are_far_apart(make_photo) -> None:
    hashes = [_hash(make_photo(seed)) for seed in range(10, 16)]
    distances = [PDQ.distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > 31


def test_hex_words_round_trip_and_distance(make_photo) -> None:
    hexes = [_hash(make_photo(seed)) for seed in range(5)]
    words = hex_to_words(hexes)
    assert words.shape == (5, 4) and words.dtype == np.uint64
    assert words_to_hex(words) == hexes
    popcount = np.bitwise_count(words[0] ^ words[1]).sum()
    assert popcount == PDQ.distance(hexes[0], hexes[1])
    assert hex_to_words([]).shape == (0, 4)


@pytest.mark.parametrize("bad", [["0" * 63], ["z" * 64], ["0" * 64, "1" * 60 + "xyzw"]])
def test_hex_to_words_rejects_bad_hashes(bad: list[str]) -> None:
    from countersignal.errors import InvalidSignal

    with pytest.raises(InvalidSignal):
        hex_to_words(bad)


def test_wrapper_keeps_pdqhash_output(make_photo) -> None:
    """Our hex conversion is the same bits pdqhash computes, in pytx's bit order."""
    image = make_photo(7)
    vector, _quality = pdqhash.compute(np.asarray(image))
    bits = "".join(str(int(b)) for b in vector)
    assert _hash(image) == f"{int(bits, 2):064x}"


def test_sixteen_bit_and_integer_ranges_are_nominal(make_photo) -> None:
    """A dark 16-bit image stays dark; a 32-bit integer image of 0/1 is not stretched."""
    grey = np.asarray(make_photo(8).convert("L"), dtype=np.uint16)
    dark16 = Image.fromarray(grey)  # values <= 255 in a 16-bit image: nearly black
    assert dark16.mode.startswith("I;16")
    assert int(pixels_for_pdq(dark16).max()) <= 1
    binary = Image.fromarray((grey > 128).astype(np.int32))
    assert binary.mode == "I"
    assert int(pixels_for_pdq(binary).max()) == 1
