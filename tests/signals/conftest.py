"""Media made in code for the signals tests: images with Pillow/numpy, videos with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter


def _photo(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like RGB image: overlapping shapes in random colours over a gradient, lightly
    blurred, so PDQ quality is high and hashes of different seeds are far apart."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.integers(0, 256, 3)
    image = Image.fromarray(np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, x1 = sorted(rng.integers(0, width, 2))
        y0, y1 = sorted(rng.integers(0, height, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((int(x0), int(y0), int(x1) + 8, int(y1) + 8), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.5))


@pytest.fixture(scope="session")
def make_photo():
    """``make_photo(seed, size)``: a deterministic photo-like RGB image."""
    return _photo


@pytest.fixture(scope="session")
def make_video(tmp_path_factory: pytest.TempPathFactory):
    """``make_video(name, source, seconds, size, extra)``: an MP4 rendered by ffmpeg from a
    lavfi test source, or re-encoded from ``source`` when it is a path."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("videos")

    def make(
        name: str,
        source: str | Path = "testsrc2",
        seconds: float = 3,
        size: str = "160x120",
        extra: tuple[str, ...] = (),
    ) -> Path:
        path = folder / name
        if not path.exists():
            if isinstance(source, Path):  # re-encode an existing video
                inputs = ["-i", str(source)]
            else:
                inputs = ["-f", "lavfi", "-i", f"{source}=size={size}:rate=10", "-t", str(seconds)]
            command = ["ffmpeg", "-v", "error", "-y", *inputs, *extra, "-pix_fmt", "yuv420p"]
            subprocess.run([*command, str(path)], check=True, timeout=60)
        return path

    return make
