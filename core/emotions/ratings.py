"""Thumbs up/down on emotion predictions, appended as JSON lines (one function to swap).

A stop-gap store until the shared feedback store lands: :func:`record_rating` is the only
entry point the page uses, so replacing its body is the whole migration. Each line is
``{"ts", "source", "text", "label", "scores", "model", "rating"}`` with rating 1 (up) or 0 (down).

Example:
    >>> record_rating(Path("/tmp/d"), text="yay", label="joy", scores={"joy": 0.9},
    ...               model="m1", rating=1)  # doctest: +SKIP
    PosixPath('/tmp/d/emotion_ratings.jsonl')
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from core.errors import UserError

RATINGS_FILE = "emotion_ratings.jsonl"
_lock = threading.Lock()


def record_rating(data_dir: Path, *, text: str, label: str, scores: dict[str, float],
                  model: str, rating: int) -> Path:
    """Append one rating; ``rating`` must be 1 (thumbs up) or 0 (thumbs down)."""
    if rating not in (0, 1):
        raise UserError(f"rating must be 0 (down) or 1 (up), got {rating!r}")
    path = Path(data_dir) / RATINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"ts": time.time(), "source": "emotions", "text": text, "label": label,
                       "scores": scores, "model": model, "rating": rating}, ensure_ascii=False)
    with _lock, path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return path


def read_ratings(data_dir: Path) -> list[dict]:
    path = Path(data_dir) / RATINGS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
