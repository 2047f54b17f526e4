"""Thumbs up/down on answers, appended to a JSONL file in the data directory.

Deliberately tiny: one function writes, one reads. The feedback issue replaces this with the
SQLAlchemy store; callers only use :func:`record_rating`, so the swap is one import. Each line:
time, session, question, mode, model, kb, chunk_ids, answer, rating (1 = up, 0 = down).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from core.errors import UserError

RATINGS_FILE = "rag_ratings.jsonl"
_lock = threading.Lock()


def ratings_path(settings) -> Path:
    return settings.ensure_data_dir() / RATINGS_FILE


def record_rating(settings, *, question: str, mode: str, model: str, answer: str, rating: int,
                  chunk_ids: list[str] | None = None, kb: str | None = None,
                  session: str | None = None) -> dict:
    """Append one rating and return the stored record."""
    if rating not in (0, 1):
        raise UserError(f"rating must be 0 (down) or 1 (up), got {rating!r}")
    record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "session": session,
              "question": question, "mode": mode, "model": model, "kb": kb,
              "chunk_ids": list(chunk_ids or []), "answer": answer, "rating": rating}
    with _lock, ratings_path(settings).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


def load_ratings(settings) -> list[dict]:
    path = ratings_path(settings)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
