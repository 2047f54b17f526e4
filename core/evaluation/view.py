"""What the Evaluate page shows: metric lists, result tables and set-up checks.

Plain Python and pandas (no Streamlit), so the page stays a recipe and this is testable alone.
Nothing here runs a model: :mod:`core.evaluation.runner` does.

Example:
    >>> adapter_kb_warning({"knowledge_base": "default"}, "ops", "default") is None
    True
"""

from __future__ import annotations

import pandas as pd

from core.answering import BASE, FINETUNED, FINETUNED_RAG, RAG

METRICS_NOTE = (
    "Exact match and token F1 (SQuAD normalisation, answer or any alias), answer hit (the "
    "normalised answer or an alias appears in the reply, for replies that say more than the "
    "answer), multiple-choice accuracy by log-likelihood, retrieval hit rate@k and MRR of the "
    "source document, and two local proxies: grounding (answer tokens found in the retrieved "
    "context; embedding cosine to the best chunk) and relevance (embedding cosine "
    "question-answer). The proxies are computed with the embedder, not an LLM judge.")
CHART_METRICS = ["exact_match", "answer_hit", "f1", "mc_accuracy", "hit_rate", "mrr",
                 "grounding_overlap", "grounding_cosine", "relevance"]
ROW_COLUMNS = ["id", "mode", "question", "gold", "prediction", "exact_match", "answer_hit", "f1",
               "mc_choice", "mc_correct", "hit", "reciprocal_rank", "grounding_overlap",
               "relevance", "seconds"]
COMPARED_ON = ["f1", "answer_hit", "mc_accuracy", "exact_match"]
FILTERS = {
    "All questions": None,
    "RAG beats fine-tuned": (RAG, FINETUNED),
    "Fine-tuned beats RAG": (FINETUNED, RAG),
    "RAG beats base": (RAG, BASE),
    "Fine-tuned beats base": (FINETUNED, BASE),
    "Fine-tuned + RAG beats RAG": (FINETUNED_RAG, RAG),
}


def adapter_kb_warning(metadata: dict, adapter: str, kb: str) -> str | None:
    """A warning when the adapter's metadata names another knowledge base than ``kb``.

    Example: metadata {"knowledge_base": "mini"}, kb "default" -> "Adapter ops was trained on
    the knowledge base mini, not default: ...". No adapter, or no recorded base -> None.
    """
    trained_on = (metadata or {}).get("knowledge_base") or ""
    if not adapter or not trained_on or trained_on == kb:
        return None
    return (f"Adapter {adapter} was trained on the knowledge base {trained_on}, not {kb}: "
            "its fine-tuned scores here measure questions it never learned from.")


def aggregates_frame(run: dict) -> pd.DataFrame:
    """One row per mode with every aggregate (the per-metric reasons are left out)."""
    return pd.DataFrame([{"mode": m, **{k: v for k, v in agg.items() if k != "unavailable"}}
                         for m, agg in run["aggregates"].items()])


def chart_frame(agg: pd.DataFrame) -> pd.DataFrame:
    """Long table (mode, metric, score) of the chart metrics that were computed."""
    return agg.melt(id_vars="mode", value_vars=[m for m in CHART_METRICS if m in agg],
                    var_name="metric", value_name="score").dropna()


def rows_frame(run: dict, ids: list[str] | None = None) -> pd.DataFrame:
    """Per-question rows in display order, optionally only the question ``ids``."""
    rows = pd.DataFrame(run["rows"])
    if ids is not None:
        rows = rows[rows["id"].isin(ids)]
    return rows[[c for c in ROW_COLUMNS if c in rows]]
