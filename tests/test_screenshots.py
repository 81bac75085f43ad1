"""scripts/screenshots.py, run as the docs say, makes all six PNGs at the documented widths."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "screenshots.py"
# name: width in px (the phone at 390, the rest at 800); heights vary with the content
SIZES = {"light": 800, "dark": 800, "mobile": 390, "replies": 800, "pending": 800, "error": 800}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path.name} does not start with IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.timeout(180)
def test_screenshots_script_makes_six_pngs(tmp_path: Path) -> None:
    out = tmp_path / "images"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in SIZES)
    assert result.stdout.split() == [str(out / f"{n}.png") for n in SIZES]
    for name, width in SIZES.items():
        path = out / f"{name}.png"
        assert path.stat().st_size > 2000, f"{name}.png is (nearly) empty"
        got_width, height = png_size(path)
        assert got_width == width, name
        assert 60 <= height <= 4000, (name, height)
    # The full pages hold the whole thread and form; the close-ups are bands of one thing.
    assert png_size(out / "light.png")[1] > png_size(out / "replies.png")[1]
    assert png_size(out / "mobile.png")[1] > png_size(out / "light.png")[1]
    assert png_size(out / "pending.png")[1] < png_size(out / "replies.png")[1]


def test_screenshots_committed_images_match_the_script() -> None:
    """The docs reference the six images, and the committed ones have the script's widths."""
    images = ROOT / "docs" / "images"
    embedding = (ROOT / "docs" / "embedding.md").read_text("utf-8")
    for name, width in SIZES.items():
        assert png_size(images / f"{name}.png")[0] == width, name
        assert f"images/{name}.png" in embedding, f"docs/embedding.md does not show {name}.png"
