"""Match quality on Meta's public ThreatExchange test data (PDQ photos, hash lists, videos).

Reads ``$COUNTERSIGNAL_REFDATA`` (default ``../shared/data``)``/meta-threatexchange``;
exits with a message when it is absent. Anchors measured in the same run: the plain (not
dihedral) hash, the raw pixels without EXIF orientation, and python-threatexchange's own
PDQ hasher on the Pillow-mode images.

    .venv/bin/python bench/eval_reference.py
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from countersignal.signals.pdq import PDQ, hash_image, hex_to_words, pixels_for_pdq
from countersignal.signals.video import VPDQ, VpdqFrame, format_vpdq, hash_video, vpdq_match

T = PDQ.default_threshold
ROOT = Path(__file__).resolve().parents[1]


def refdata() -> Path:
    base = Path(os.environ.get("COUNTERSIGNAL_REFDATA", ROOT / "../shared/data"))
    path = (base / "meta-threatexchange").resolve()
    if not path.is_dir():
        print(f"reference data not found at {path}; set COUNTERSIGNAL_REFDATA. Skipping.")
        sys.exit(0)
    return path


def pdq(path: Path) -> str:
    return hash_image(path)[0].value


def _yes(distance: int) -> str:
    return "yes" if distance <= T else "no"


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def dihedral(data: Path) -> None:
    folder = data / "pdq/data/reg-test-input/dih"
    files = sorted(folder.glob("*.jpg"))
    original = next(f for f in files if "original" in f.name)
    plain = pdq(original)
    variants = [s.value for s in hash_image(original, dihedral=True)]
    rows, plain_hits, dih_hits = [], 0, 0
    for path in files:
        value = pdq(path)
        d_plain = PDQ.distance(value, plain)
        d_dih = min(PDQ.distance(value, v) for v in variants)
        plain_hits += d_plain <= T
        dih_hits += d_dih <= T
        rows.append([path.name, d_plain, "yes" if d_plain <= T else "no", d_dih,
                     "yes" if d_dih <= T else "no"])  # fmt: skip
    print(f"\n### Dihedral variants ({folder.relative_to(data)}) against the original")
    table(["file", "plain distance", "plain match", "dihedral distance", "dihedral match"], rows)
    print(f"\nplain: {plain_hits}/{len(files)} match; dihedral: {dih_hits}/{len(files)} match")


def exif(data: Path) -> None:
    """Each file against an upright copy of itself (EXIF applied, saved without EXIF).

    The four files are separate shots of one desk (landscape and portrait framings), so
    they are not expected to match each other; what must hold is that a file and its
    displayed picture hash alike, whatever its orientation tag.
    """
    import io

    from PIL import ImageOps

    folder = data / "pdq/data/reg-test-input/exif-rotn"
    rows = []
    for f in sorted(folder.glob("*.jpg")):
        with Image.open(f) as image:
            orientation = image.getexif().get(0x0112, 1)
            stored = image.size
            vector, _ = pdqhash.compute(pixels_for_pdq(image.convert("RGB")))  # EXIF ignored
            raw = np.packbits(vector.astype(np.uint8)).tobytes().hex()
            upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        upright.save(buffer, format="JPEG", quality=95)
        reference = hash_image(buffer.getvalue())[0].value
        d_ours, d_raw = PDQ.distance(pdq(f), reference), PDQ.distance(raw, reference)
        rows.append(
            [f.name, orientation, "x".join(map(str, stored)), "x".join(map(str, upright.size)),
             d_ours, _yes(d_ours), d_raw, _yes(d_raw)]
        )  # fmt: skip
    print(f"\n### EXIF orientation ({folder.relative_to(data)}): file vs its upright copy")
    table(["file", "orientation", "stored", "displayed", "distance", "match",
           "ignoring EXIF (anchor)", "match"], rows)  # fmt: skip


def modes(data: Path) -> None:
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

    folder = data / "pdq/data/misc-images/modes"
    original = pdq(folder / "original.jpg")
    rows, ours_hits, theirs_hits, files = [], 0, 0, sorted(folder.glob("*.*"))
    files = [f for f in files if f.suffix != ".md" and f.name != "original.jpg"]
    for path in files:
        with Image.open(path) as image:
            mode = image.mode
        signal = hash_image(path)[0]
        d_ours = PDQ.distance(signal.value, original)
        try:
            value, quality = pdq_from_file(path)
            d_theirs = PDQ.distance(value, original)
            theirs = f"{d_theirs} (q {quality})"
        except Exception as exc:
            d_theirs, theirs = 999, f"error: {type(exc).__name__}"
        ours_hits += d_ours <= T
        theirs_hits += d_theirs <= T
        rows.append([path.name, mode, f"{d_ours} (q {signal.quality})", theirs])
    print(f"\n### Pillow modes ({folder.relative_to(data)}) against original.jpg")
    table(["file", "mode as opened", "distance (quality)", "pytx pdq_hasher distance"], rows)
    print(f"\nmatch at <= {T}: ours {ours_hits}/{len(files)}, "
          f"python-threatexchange {theirs_hits}/{len(files)}")  # fmt: skip


def unrelated(data: Path) -> None:
    base = data / "pdq/data/reg-test-input"
    others = ["pen-and-coaster.png", "dih/bridge-1-original.jpg", "exif-rotn/exif-rotn-1.jpg"]
    files = [*sorted((base / "labelme-subset").glob("*.jpg")), *(base / o for o in others)]
    signals = {f: hash_image(f)[0] for f in files}
    pairs = list(itertools.combinations(files, 2))
    distances = [PDQ.distance(signals[a].value, signals[b].value) for a, b in pairs]
    false = [(a.name, b.name, d) for (a, b), d in zip(pairs, distances, strict=True) if d <= T]
    low = [f.name for f in files if signals[f].meta.get("unreliable")]
    print(f"\n### Unrelated photos: {len(files)} images, {len(pairs)} pairs")
    print(f"\nfalse matches at <= {T}: {len(false)} {false or ''}; smallest distance "
          f"{min(distances)}; median {int(np.median(distances))}; "
          f"quality < 50: {low or 'none'}")  # fmt: skip


def hash_lists(data: Path) -> None:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    base = data / "pdq/data/reg-test-input"
    haystack = (base / "haystack.txt").read_text().split()
    needles = (base / "needles.txt").read_text().split()
    started = time.perf_counter()
    ours = {i: PDQ.compare(n, haystack) for i, n in enumerate(needles)}
    compare_s = time.perf_counter() - started
    hay, ned = hex_to_words(haystack), hex_to_words(needles)
    matrix = np.bitwise_count(ned[:, None, :] ^ hay[None, :, :]).sum(axis=2)
    numpy_pairs = {(int(i), int(j)) for i, j in zip(*np.nonzero(matrix <= T), strict=True)}
    our_pairs = {(i, j) for i, found in ours.items() for j, _ in found}
    pytx_pairs = {
        (i, j)
        for i, n in enumerate(needles)
        for j, h in enumerate(haystack)
        if PdqSignal.compare_hash(n, h).match
    }
    exact = sum(1 for n in needles if n in set(haystack))
    print(f"\n### Hash lists: {len(needles)} needles x {len(haystack)} haystack "
          "(files hold plain 64-hex PDQ hashes, one a line)")  # fmt: skip
    table(
        ["method", "matching pairs", "needles with a match", "agrees with PDQ.compare"],
        [
            ["PDQ.compare (brute force)", len(our_pairs), len({i for i, _ in our_pairs}), "-"],
            ["numpy popcount (hex_to_words)", len(numpy_pairs),
             len({i for i, _ in numpy_pairs}), numpy_pairs == our_pairs],
            ["pytx PdqSignal.compare_hash", len(pytx_pairs),
             len({i for i, _ in pytx_pairs}), pytx_pairs == our_pairs],
        ],
    )  # fmt: skip
    print(f"\nexact needle copies in the haystack: {exact}; distance histogram of matches: "
          f"{np.bincount(matrix[matrix <= T], minlength=T + 1).tolist()}; "
          f"brute-force compare took {compare_s:.2f} s")  # fmt: skip


def _vpdq_package_value(path: Path) -> str:
    """Anchor: whole frames hashed by Meta's ``vpdq`` package (what HMA and pytx compute)."""
    import vpdq

    features = vpdq.computeHash(str(path), seconds_per_hash=1.0)
    return format_vpdq(
        [VpdqFrame(f.hex, f.quality, n, f.timestamp) for n, f in enumerate(features)]
    )


def _timed(hasher, files: list[Path]) -> tuple[dict[str, str], float]:
    started = time.perf_counter()
    values = {f.stem: hasher(f) for f in files}
    return values, (time.perf_counter() - started) / len(files)


def videos(data: Path) -> None:
    folder = data / "tmk/sample-videos"
    files = sorted(folder.glob("*.mp4"))
    anchor, anchor_s = _timed(_vpdq_package_value, files)
    ours, ours_s = _timed(lambda f: hash_video(f).value, files)
    names = list(ours)
    scene = {name: name.split("-")[0] for name in names}
    threshold = 100 - VPDQ.default_threshold
    print(f"\n### TMK sample videos with vPDQ ({len(files)} videos; seconds per video: "
          f"vpdq package {anchor_s:.2f}, ours {ours_s:.2f})")  # fmt: skip
    print(f"\nSame-scene pairs (chair, pattern): query % / compared % of frames matched; "
          f"match (**bold**) when query % >= {threshold:.0f}.\n")  # fmt: skip
    rows = []
    for query, candidate in itertools.permutations(names, 2):
        if scene[query] not in ("chair", "pattern") or scene[query] != scene[candidate]:
            continue
        row = [query, candidate]
        for values in (anchor, ours):
            match = vpdq_match(values[query], values[candidate])
            text = f"{match.query_percent:.0f} / {match.compared_percent:.0f}"
            row.append(f"**{text}**" if match.query_percent >= threshold else text)
        rows.append(row)
    table(["query", "candidate", "vpdq package (whole frames)", "ours (bars cropped)"], rows)
    for label, values in (("vpdq package", anchor), ("ours", ours)):
        same = diff = same_hit = diff_hit = 0
        for query, candidate in itertools.permutations(names, 2):
            hit = VPDQ.distance(values[query], values[candidate]) <= VPDQ.default_threshold
            known = scene[query] in ("chair", "pattern") and scene[query] == scene[candidate]
            same += known
            same_hit += known and hit
            diff += not known
            diff_hit += (not known) and hit
        print(f"\n{label}: same-scene pairs matched {same_hit}/{same}; "
              f"other pairs falsely matched {diff_hit}/{diff}")  # fmt: skip
    crossed = [vpdq_match(anchor[n], ours[n]).query_percent for n in names]
    print(
        f"\nvpdq package value as query against ours, same file: {min(crossed):.0f}-"
        f"{max(crossed):.0f}% (100% on the {sum(c == 100 for c in crossed)} files without bars)"
    )


def main() -> None:
    data = refdata()
    started = time.perf_counter()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; PDQ threshold {T}, vPDQ frame threshold 31, "
          f"query match >= {100 - VPDQ.default_threshold:.0f}%")  # fmt: skip
    dihedral(data)
    exif(data)
    modes(data)
    unrelated(data)
    hash_lists(data)
    videos(data)
    print(f"\nrun time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
