"""The shipped default knowledge base and its QA set (``assets/knowledge``).

``ensure_default_kb`` builds the ``default`` base from the Markdown/text files the first time a
page or test needs it; ``is_correct`` checks an answer against a QA row. The question set itself
is read by :mod:`core.qa` (``load_qa_rows``): only ``train`` questions may be used for
training; the compare page offers ``test`` questions as examples. Nothing here generates text.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import UserError
from core.rag.config import DEFAULT_KB
from core.settings import ASSETS_DIR

DEFAULT_DOCS_DIR = ASSETS_DIR / "knowledge" / "default"


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
