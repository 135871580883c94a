"""Every registered signal type passes the shared conformance helper."""

from __future__ import annotations

import json

import pytest

from countersignal.errors import NotFound
from countersignal.signals import SIGNAL_TYPES, get_signal_type, hash_image, hash_text, hash_url
from countersignal.signals.file import MD5, SHA256, VideoMD5, digest_bytes
from countersignal.signals.testing import check_signal_type
from countersignal.signals.text import TextExact, TextNear
from countersignal.signals.url import URL, URLDomain
from countersignal.signals.video import VPDQ, VpdqFrame, format_vpdq


def _texts() -> list[list]:
    return [hash_text(t) for t in ("first sample text", "second sample text", "unrelated words")]


def _examples(name: str, make_photo) -> dict:
    if name == "pdq":
        values = [hash_image(make_photo(seed))[0].value for seed in range(4)]
        return {
            "valid": values,
            "invalid": ["0" * 63, "g" * 64, "0" * 65, "0" * 62 + "_1"],
            "canonical": {"  " + values[0].upper() + "\n": values[0]},
        }
    if name == "vpdq":
        hexes = [hash_image(make_photo(seed))[0].value for seed in range(6)]
        values = [
            format_vpdq([VpdqFrame(h, 100, n, float(n)) for n, h in enumerate(hexes[i : i + 3])])
            for i in range(4)
        ]
        pytx_style = json.dumps([f"{hexes[0].upper()},100,0.0"])
        return {
            "valid": values,
            "invalid": ["[]", "{}", "not json", json.dumps(["abc,1,0"]),
                        json.dumps([f"{hexes[0]},101,0"]), json.dumps([f"{hexes[0]},100,-1"])],
            "canonical": {pytx_style: format_vpdq([VpdqFrame(hexes[0], 100, 0, 0.0)])},
        }  # fmt: skip
    if name in (MD5.name, VideoMD5.name, SHA256.name):
        index = 1 if name == SHA256.name else 0
        values = [digest_bytes(b"content %d" % i)[index] for i in range(3)]
        return {
            "valid": values,
            "invalid": [values[0][:-1], values[0] + "0", "z" * len(values[0])],
            "canonical": {values[0].upper(): values[0]},
        }
    if name == TextExact.name:
        values = [signals[0].value for signals in _texts()]
        return {"valid": values, "invalid": ["abc", "x" * 64], "canonical": {}}
    if name == TextNear.name:
        values = [signals[1].value for signals in _texts()]
        return {"valid": values, "invalid": [values[0][:-2], "q" * 1024], "canonical": {}}
    if name == URL.name:
        values = [hash_url(u)[0].value for u in ("https://a.example/x", "http://b.example/")]
        return {
            "valid": values,
            "invalid": ["http://", "http://exa mple.com/", "http://a..b/", "\x00"],
            "canonical": {"HTTPS://A.example:443/x/?utm_source=y#z": "https://a.example/x"},
        }
    if name == URLDomain.name:
        return {
            "valid": ["example.com", "bbc.co.uk", "xn--bcher-kva.de"],
            "invalid": ["www.example.com", "-bad-.com", "a b.com"],
            "canonical": {"BÜCHER.de": "xn--bcher-kva.de", "Example.COM.": "example.com"},
        }
    raise AssertionError(f"no conformance examples for signal type {name!r}: add them here")


@pytest.mark.parametrize("name", sorted(SIGNAL_TYPES))
def test_signal_type_conforms(name: str, make_photo) -> None:
    check_signal_type(SIGNAL_TYPES[name], **_examples(name, make_photo))


def test_names_match_python_threatexchange() -> None:
    """Types pytx/HMA also have keep pytx's names, so exchanged banks need no mapping."""
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.url import URLSignal

    for ours, theirs in ((VPDQ, VPDQSignal), (VideoMD5, VideoMD5Signal), (URL, URLSignal)):
        assert ours.name == theirs.get_name()
    assert SIGNAL_TYPES["pdq"].name == PdqSignal.get_name()


def test_unknown_type_is_not_found() -> None:
    with pytest.raises(NotFound, match="known types"):
        get_signal_type("tmk")


def test_helper_catches_a_broken_type() -> None:
    """The helper must fail a type whose compare disagrees with its distance."""

    class Broken(MD5):
        @classmethod
        def compare(cls, query, candidates, threshold=None):
            return []

    SIGNAL_TYPES["md5"] = Broken
    try:
        with pytest.raises(AssertionError, match="compare"):
            check_signal_type(Broken, **_examples("md5", None))
    finally:
        SIGNAL_TYPES["md5"] = MD5
