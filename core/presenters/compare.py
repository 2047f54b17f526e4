"""What the Ask & compare page shows besides the answers: the intro naming the knowledge base,
the sources table and the fields kept with each rating.

Plain Python (no Streamlit), so the page stays a recipe. Answering is :mod:`core.answering`.

Example:
    >>> describe_kb("ops", ["a.md", "b.md", "c.md", "d.md"]).split("; ")[0][-57:]
    'the knowledge base ops (4 documents: a.md, b.md, c.md, …)'
"""

from __future__ import annotations

import uuid

from core.answering import MODEL_MODES, MODES
from core.rag.config import DEFAULT_KB
from core.rag.defaults import DEFAULT_DOCS_DIR

COLUMNS = [(m.name, m.label) for m in MODES.values()]
LABELS = dict(COLUMNS)  # mode -> column label, in the page's order
DEFAULT_COLUMNS = list(MODEL_MODES)  # the no-model baseline is an optional column
NO_MODEL_CAPTION = ("No language model: the evidence sentence that best matches the question "
                    "and the one after it. Every model column should beat this.")
SCORE_HELP = {"vector": "score = cosine similarity", "fts": "score = BM25",
              "hybrid": "score = RRF, the sum of 1/(60 + rank) over both searches"}
SHOWN_DOCUMENTS = 3


def first_adapter_note(name: str, minutes: float) -> str:
    """What a page says while the first-start adapter trains. Example: ("default-knowledge",
    5) -> 'Training the adapter **default-knowledge** ... (about 5 min of training) ...'."""
    return (f"Training the adapter **{name}** on the default knowledge base in the background, "
            f"started with the server because none existed (about {minutes:g} min of training "
            "after the model and the knowledge base load). The fine-tuned columns answer with "
            "it once it is saved; Base and RAG answer meanwhile.")


NO_ADAPTER_YET = "The adapter is still training (see above); ask again once it is saved."
NO_ADAPTER = "No adapter: train one on the Fine-tune page, then pick it above."


def default_adapter_index(names: list[str], preferred: str) -> int | None:
    """The adapter picked on a first visit: ``preferred`` (the first-start one) when it exists,
    else the first, None when there is none. Example: (["a", "default-knowledge"],
    "default-knowledge") -> 1."""
    if not names:
        return None
    return names.index(preferred) if preferred in names else 0


DEFAULT_KB_NOTICE = ("The default knowledge base is built automatically with your first "
                     "question (about a minute on a CPU).")

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
            "extra": {"kb": run["kb"], "search": run["search"], "run_id": run["id"],
                      "extractive": bool(result.get("extractive")),
                      "generated": result.get("generated", ""),
                      "provenance": result.get("provenance") or {}}}


def latency_caption(result: dict) -> str:
    """Example: 'Latency **1.20 s** · **31** tokens · retrieval 0.05 s' (retrieval only when
    sources were retrieved), then, for an extractive answer, what it is and what the model said
    (escaped: the model's text is never rendered as Markdown)."""
    from core.rag.highlight import escape_markdown

    caption = (f"Latency **{result['seconds']:.2f} s** · **{result['tokens']}** tokens"
               + (f" · retrieval {result['retrieval_seconds']:.2f} s" if result["sources"]
                  else ""))
    if result.get("extractive") and MODES.get(result.get("mode"), MODES["rag"]).generates:
        caption += (f"  \n**Answered from the sources:** {escape_markdown(result['answer'])}  \n"
                    "The model's own answer was not supported by the best-matching sentence, "
                    "so that sentence is the answer. The model said: "
                    f"{escape_markdown(result.get('generated') or '(nothing)')}")
    return caption


def sources_caption(run: dict, result: dict) -> str:
    """What was retrieved, from where, how it is scored and whether the context was trimmed
    (Markdown; the knowledge base name is escaped)."""
    from core.rag.highlight import escape_markdown

    return (f"Retrieved {len(result['sources'])} chunk(s) from **{escape_markdown(run['kb'])}** "
            f"({SCORE_HELP[run['search']]}); words shared with the answer are highlighted."
            + (" Context was trimmed to fit the model." if result["trimmed"] else ""))


def new_run(question: str, *, kb: str, search: str, adapter: str | None, shown: list[str],
            previous: dict | None) -> dict:
    """A fresh compare run; it renders into the other of the page's two places than
    ``previous`` (so the old answers vanish at once), the first place when there is none."""
    return {"id": uuid.uuid4().hex[:8], "question": question, "kb": kb, "search": search,
            "results": {}, "errors": {}, "adapter": adapter, "shown": list(shown),
            "place": 1 - previous["place"] if previous else 0}


def shown_columns(run: dict) -> list[tuple[str, str]]:
    """The (mode, label) columns the run shows, in the page's order; the model columns when
    none is chosen."""
    return [(m, label) for m, label in COLUMNS if m in run["shown"]] or [
        (m, LABELS[m]) for m in DEFAULT_COLUMNS]


def provenance_caption(result: dict) -> str:
    """How the answer was made, in one line; e.g. 'int8 · evidence 1 sentence · at most 40
    tokens, stops at a line break', and any degradation."""
    p = result.get("provenance") or {}
    if not p.get("generator"):
        parts = ["no model"]
    else:
        parts = [p.get("dtype") or "server dtype",
                 f"at most {p.get('max_new_tokens')} tokens"
                 + (", stops at a line break" if "\n" in (p.get("stop") or []) else "")]
    if p.get("evidence") is not None:
        parts.append("whole chunks" if p["evidence"] == 0 else
                     f"evidence {p['evidence']} sentence{'s' if p['evidence'] != 1 else ''}")
    if p.get("fallback"):
        parts.append("extractive fallback on")
    parts.extend(f"degraded: {d}" for d in p.get("degraded") or ())
    return " · ".join(parts)
