"""What the Knowledge bases page says and suggests besides its widgets: the name offered for a
new base, what a delete did, and the upload types.

Plain Python (no Streamlit). Reading documents and the build job are :mod:`core.rag.builds`,
the store :mod:`core.rag.store`.

Example:
    >>> suggested_name([])
    'default'
    >>> suggested_name(["default"])
    'my-docs'
    >>> deleted_document_message("a.md", 3, "ops")
    'Deleted a.md (3 chunks) from ops.'
"""

from __future__ import annotations

from core.rag.config import DEFAULT_KB

UPLOAD_TYPES = ["txt", "md", "pdf", "csv", "jsonl"]
NAME_HELP = "1-64 characters: a-z, 0-9, '-' or '_'. An existing name adds to that base."
SOURCES = ("Upload files", "Default documents (assets)")


def suggested_name(existing: list[str]) -> str:
    """The default base's name until it exists, then 'my-docs'."""
    return DEFAULT_KB if DEFAULT_KB not in existing else "my-docs"


def deleted_document_message(document: str, chunks: int, kb: str) -> str:
    return f"Deleted {document} ({chunks} chunks) from {kb}."


def deleted_kb_message(kb: str) -> str:
    return f"Deleted knowledge base {kb}."
