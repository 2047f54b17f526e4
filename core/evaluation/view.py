"""What the Evaluate page shows: metric lists, result tables and set-up checks.

Plain Python and pandas (no Streamlit), so the page stays a recipe and this is testable alone.
Nothing here runs a model: :mod:`core.evaluation.runner` does.

Example:
    >>> adapter_kb_warning({"knowledge_base": "default"}, "ops", "default") is None
    True
"""

from __future__ import annotations

from collections.abc import MutableMapping

import pandas as pd

from core import access
from core.answering import BASE, FINETUNED, FINETUNED_RAG, RAG
from core.errors import UserError
from core.evaluation.runner import compare_runs, wins
from core.qa import parse_qa_text, select_split

METRICS_NOTE = (
    "Exact match and token F1 (SQuAD normalisation, answer or any alias), answer hit (the "
    "normalised answer or an alias appears in the reply, for replies that say more than the "
    "answer), multiple-choice accuracy by log-likelihood, retrieval hit rate@k and MRR of the "
    "source document, and two local proxies: grounding (answer tokens found in the retrieved "
    "context; embedding cosine to the best chunk) and relevance (embedding cosine "
    "question-answer). The proxies are computed with the embedder, not an LLM judge. "
    "'extractive' marks retrieving-mode answers that are the best-matching source sentence "
    "because the model's own answer was not supported by it.")
CHART_METRICS = ["exact_match", "answer_hit", "f1", "mc_accuracy", "hit_rate", "mrr",
                 "grounding_overlap", "grounding_cosine", "relevance"]
ROW_COLUMNS = ["id", "mode", "question", "gold", "prediction", "extractive", "exact_match",
               "answer_hit", "f1",
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


def rows_csv(run: dict) -> bytes:
    """The run's rows as CSV, formula-looking cells neutralised (:func:`safe_csv`)."""
    from core.feedback.export import safe_csv

    return safe_csv(pd.DataFrame(run["rows"]))


def decode_upload(data: bytes, name: str, max_mb: int) -> str:
    """An uploaded QA file's text; UserError when it is over ``max_mb`` MB or not UTF-8."""
    if len(data) > max_mb * 1_000_000:
        raise UserError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is {max_mb} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name} is not UTF-8 text") from None


def run_title(run: dict) -> str:
    """Example: {"id": "r1", "n": 3, "cancelled": True} -> 'Run r1 · 3 questions (cancelled)'."""
    return f"Run {run['id']} · {run['n']} questions" + (" (cancelled)" if run.get("cancelled")
                                                         else "")


def unavailable_notes(run: dict) -> list[str]:
    """One line per metric a mode could not compute, with the reason."""
    return [f"{mode} · {metric}: not computed ({reason})"
            for mode, agg in run["aggregates"].items()
            for metric, reason in (agg.get("unavailable") or {}).items()]


def saved_runs_frame(runs: list[dict]) -> pd.DataFrame:
    """Long table (metric, value, run · mode) of the chart metrics of saved runs."""
    table = pd.DataFrame(compare_runs(runs)).dropna()
    table = table[table["metric"].isin(CHART_METRICS)]
    table["run · mode"] = table["run"] + " · " + table["mode"]
    return table


def keep(state: MutableMapping, key: str, default, valid=lambda v: True) -> str:
    """Give widget ``key`` in ``state`` (``st.session_state``) a value that survives navigation.

    Streamlit drops a widget's key when its page is left, so the page copies each value to
    ``kept-<key>`` (:func:`remember`) and this restores it, or ``default`` when neither exists
    or the value is no longer ``valid``. Returns ``key`` to pass to the widget. Example:
    state {"kept-ev-kb": "gone"}, valid = ["default"].__contains__ -> state["ev-kb"] =
    "default".
    """
    value = state.get(key, state.get(f"kept-{key}", default))
    state[key] = value if valid(value) else default
    return key


def remember(state: MutableMapping, keys: tuple[str, ...]) -> None:
    """Copy each widget value to its ``kept-`` key (see :func:`keep`); a widget not drawn
    in this run (e.g. no questions to count yet) keeps its previous copy."""
    state.update({f"kept-{k}": state[k] for k in keys if k in state})


def run_meta(settings, **choices) -> dict:
    """What a run records about its set-up: the page's ``choices`` plus the models used."""
    return {**choices, "generator": settings.generator_model,
            "embedder": settings.embedding_model}


def shown_rows(run: dict, which: str, metric: str) -> tuple[pd.DataFrame, str | None]:
    """The rows the ``which`` filter of :data:`FILTERS` keeps, and a caption saying how many.

    Example: "RAG beats base" on f1 -> rows where rag's F1 > base's, and "2 question(s) where
    rag scores higher than base on f1."; "All questions" -> every row and None.
    """
    pair = FILTERS[which]
    if not pair:
        return rows_frame(run), None
    ids = wins(run["rows"], metric, *pair)
    return rows_frame(run, ids), (f"{len(ids)} question(s) where {pair[0]} scores higher than "
                                  f"{pair[1]} on {metric}.")


def upload_items(data: bytes, name: str, max_mb: int, split: str, *,
                 actor: access.Actor | None = None) -> list:
    """The questions of an uploaded QA file in ``split`` ("all" = every row; rows without a
    split count as test); UserError naming the file when it is too big, not UTF-8 or invalid.
    ``actor`` must be allowed ``upload`` (None: the process's actor, see core.access).
    """
    access.require(actor, "upload")
    items = parse_qa_text(decode_upload(data, name, max_mb), name)
    return select_split(items, None if split == "all" else split)
