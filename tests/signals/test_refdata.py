"""Against Meta's public PDQ test data (skips cleanly when the reference data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from countersignal.signals.pdq import PDQ, hash_image, hex_to_words


def test_every_pillow_mode_file_matches_the_original(refdata: Path) -> None:
    folder = refdata / "meta-threatexchange/pdq/data/misc-images/modes"
    original = hash_image(folder / "original.jpg")[0].value
    files = [f for f in folder.iterdir() if f.suffix != ".md"]
    assert len(files) >= 14
    for path in files:
        signal = hash_image(path)[0]
        assert PDQ.distance(signal.value, original) <= PDQ.default_threshold, path.name
        assert signal.quality >= 50, path.name


def test_dihedral_matching_finds_all_eight_variants(refdata: Path) -> None:
    folder = refdata / "meta-threatexchange/pdq/data/reg-test-input/dih"
    variants = [s.value for s in hash_image(folder / "bridge-1-original.jpg", dihedral=True)]
    files = sorted(folder.glob("*.jpg"))
    assert len(files) == 8
    for path in files:
        value = hash_image(path)[0].value
        assert min(PDQ.distance(value, v) for v in variants) <= PDQ.default_threshold, path.name


def test_needles_in_haystack_agree_with_numpy(refdata: Path) -> None:
    folder = refdata / "meta-threatexchange/pdq/data/reg-test-input"
    haystack = (folder / "haystack.txt").read_text().split()
    needles = (folder / "needles.txt").read_text().split()[:20]
    words = hex_to_words(haystack)
    for needle in needles:
        distances = np.bitwise_count(words ^ hex_to_words([needle])).sum(axis=1)
        expected = [(int(i), int(distances[i])) for i in np.flatnonzero(distances <= 31)]
        assert PDQ.compare(needle, haystack) == expected
        assert expected  # every needle has a near copy in the haystack
