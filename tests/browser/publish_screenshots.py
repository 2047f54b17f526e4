"""Copy the browser tests' screenshots that the README shows into docs/screenshots/, each < 400 KB.

The browser tests (``pytest -m browser``) write full-page PNGs to test-artifacts/screenshots/.
This script copies the ones README.md links (``docs/screenshots/<name>.png``; the tests' other
screenshots are for debugging and stay in the artifacts), re-encoding any file over the limit
as a 256-colour palette PNG and, if that is still too big, scaling it down in 15 % steps.
It leaves the artifacts untouched.
``make screenshots`` runs the browser tests and then this script.

    .venv/bin/python tests/browser/publish_screenshots.py
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from PIL import Image  # Pillow ships with Streamlit

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "test-artifacts" / "screenshots"
TARGET = REPO / "docs" / "screenshots"
LIMIT = 400_000  # bytes
README = REPO / "README.md"


def linked_names(readme: str) -> set[str]:
    """Screenshot names a README links. Example: '![a](docs/screenshots/a.png)' -> {'a.png'}."""
    return set(re.findall(r"docs/screenshots/([\w.-]+\.png)", readme))


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
    wanted = linked_names(README.read_text(encoding="utf-8"))
    pngs = sorted(p for p in SOURCE.glob("*.png") if p.name in wanted)
    missing = sorted(wanted - {p.name for p in pngs})
    if missing:
        print(f"not in {SOURCE}: {', '.join(missing)}: run `pytest -m browser` first",
              file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        size = shrink(png, TARGET / png.name)
        print(f"{png.name}: {png.stat().st_size // 1000} KB -> {size // 1000} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
