"""What the Ask & compare page shows besides the answers: the intro naming the knowledge base,
the sources table and the fields kept with each rating.

Plain Python (no Streamlit), so the page stays a recipe. Answering is :mod:`core.answering`.

Example:
    >>> describe_kb("ops", ["a.md", "b.md", "c.md", "d.md"]).split("; ")[0][-57:]
    'the knowledge base ops (4 documents: a.md, b.md, c.md, …)'
"""

from __future__ import annotations

from core.answering import MODES
from core.rag.config import DEFAULT_KB
from core.rag.defaults import DEFAULT_DOCS_DIR

COLUMNS = [(m.name, m.label) for m in MODES.values()]
SCORE_HELP = {"vector": "score = cosine similarity", "fts": "score = BM25",
              "hybrid": "score = RRF, the sum of 1/(60 + rank) over both searches"}
SHOWN_DOCUMENTS = 3


def kb_documents(store, kb: str) -> list[str]:
    """Document names of ``kb``; for the default base not built yet, the files it is built from."""
    if store.exists(kb):
        return [d["document"] for d in store.documents(kb)]
    if kb == DEFAULT_KB and DEFAULT_DOCS_DIR.is_dir():
        return sorted(p.name for p in DEFAULT_DOCS_DIR.iterdir() if p.is_file())
    return []


def describe_kb(kb: str, documents: list[str]) -> str:
    """The page intro for ``kb``: its name, document count and the first few documents."""
    if not documents:
        where = f"the knowledge base {kb} (no documents yet)"
    else:
        names = ", ".join(documents[:SHOWN_DOCUMENTS]) + (
            ", …" if len(documents) > SHOWN_DOCUMENTS else "")
        count = f"{len(documents)} document{'s' if len(documents) != 1 else ''}"
        where = f"the knowledge base {kb} ({count}: {names})"
    return (f"Answers from the model alone and with context retrieved from {where}; the base "
            "model has never seen these documents.")


def sources_rows(sources: list[dict]) -> list[dict]:
    """The sources table, useful columns first: rank, document, score, chunk position."""
    return [{"#": i, "document": s["document"], "score": round(float(s["score"]), 3),
             "chunk": s["chunk"]} for i, s in enumerate(sources, 1)]


def feedback_fields(run: dict, mode: str, result: dict) -> dict:
    """What the feedback store keeps for one answer (see core.feedback.store.record_output)."""
    return {"page": "compare", "mode": mode, "prompt": run["question"],
            "output": result["answer"], "model_id": result["model"],
            "adapter_id": run.get("adapter") if MODES[mode].needs_adapter else None,
            "retrieved_ids": result["chunk_ids"],
            "latency_seconds": result["seconds"],
            "extra": {"kb": run["kb"], "search": run["search"], "run_id": run["id"]}}
