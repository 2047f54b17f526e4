"""Copy the browser tests' screenshots into docs/screenshots/ for the README, each < 400 KB.

The browser tests (``pytest -m browser``) write full-page PNGs to test-artifacts/screenshots/.
This script copies them, re-encoding any file over the limit as a 256-colour palette PNG and,
if that is still too big, scaling it down in 15 % steps. It leaves the artifacts untouched.
``make screenshots`` runs the browser tests and then this script.

    .venv/bin/python tests/browser/publish_screenshots.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image  # Pillow ships with Streamlit

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "test-artifacts" / "screenshots"
TARGET = REPO / "docs" / "screenshots"
LIMIT = 400_000  # bytes


def shrink(src: Path, dst: Path, limit: int = LIMIT) -> int:
    """Write ``src`` to ``dst`` under ``limit`` bytes; returns the final size."""
    shutil.copyfile(src, dst)
    scale = 1.0
    while dst.stat().st_size >= limit and scale > 0.3:
        with Image.open(src) as img:
            img = img.convert("RGB")
            if scale < 1.0:
                img = img.resize((int(img.width * scale), int(img.height * scale)),
                                 Image.Resampling.LANCZOS)
            img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
        scale -= 0.15
    return dst.stat().st_size


def main() -> int:
    pngs = sorted(SOURCE.glob("*.png"))
    if not pngs:
        print(f"no screenshots in {SOURCE}: run `pytest -m browser` first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        size = shrink(png, TARGET / png.name)
        print(f"{png.name}: {png.stat().st_size // 1000} KB -> {size // 1000} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
