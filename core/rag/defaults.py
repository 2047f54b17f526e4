"""The shipped default knowledge base and its QA set (``assets/knowledge``).

``ensure_default_kb`` builds the ``default`` base from the Markdown/text files the first time a
page or test needs it; ``load_qa`` reads the question set (question, answer, aliases, choices,
source, split). Only ``train`` questions may be used for training; the compare page offers
``test`` questions as examples. Nothing here generates text.

Example:
    >>> load_qa(split="test")[0]["question"]  # doctest: +SKIP
    'In which town is Harrowmere Tide Instruments based?'
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import UserError
from core.rag.config import DEFAULT_KB
from core.settings import ASSETS_DIR

DEFAULT_DOCS_DIR = ASSETS_DIR / "knowledge" / "default"
DEFAULT_QA = ASSETS_DIR / "knowledge" / "default_qa.jsonl"


def load_qa(path: Path = DEFAULT_QA, split: str | None = None) -> list[dict]:
    """QA rows from a JSONL file, optionally only one split; [] when the file is absent."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]


def is_correct(answer: str, row: dict) -> bool:
    """True when the gold answer or an alias appears in ``answer`` (case-insensitive).

    Example: ``is_correct("It is 7.3 km away.", {"answer": "7.3 kilometres",
    "aliases": ["7.3 km"]})`` is True.
    """
    text = " ".join(answer.lower().split())
    return any(" ".join(str(a).lower().split()) in text
               for a in [row["answer"], *row.get("aliases", [])] if str(a).strip())


def ensure_default_kb(store, progress=None, *, folder: Path = DEFAULT_DOCS_DIR):
    """Build the default base when missing; returns the BuildReport, or None if it existed."""
    from core.rag.ingest import read_folder

    if store.exists(DEFAULT_KB):
        return None
    if not folder.is_dir():
        raise UserError(f"the default documents are missing ({folder}); reinstall or create a "
                        "knowledge base from your own files")
    docs, _ = read_folder(folder)
    return store.add_documents(DEFAULT_KB, docs, progress=progress)
