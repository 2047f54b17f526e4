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
from core.answering import BASE, EXTRACTIVE, FINETUNED, FINETUNED_RAG, RAG
from core.errors import UserError
from core.evaluation.intervals import format_interval
from core.evaluation.runner import COMPARED_METRICS, compare_runs, wins
from core.qa import parse_qa_text, select_split

METRICS_NOTE = (
    "Every mode is scored on its own output: a model mode on the model's text, the "
    "'extractive' mode (retrieval only, no model) on the evidence passage it picks, so every "
    "model mode can be read against what a sentence picker gets. Intervals are 95 %; each pair "
    "of modes gets a paired verdict on the same questions. 'New to the model' scores only the "
    "questions the base model alone did not answer.")
#: What each metric means, shown on the page (one definition per metric, one place).
METRIC_DEFINITIONS = {
    "exact_match": "1 when the normalised answer equals the gold answer or an alias "
                   "(lower-case, punctuation and a/an/the removed; decimal points kept, "
                   "thousands separators dropped, number words as digits).",
    "answer_hit": "1 when the normalised gold answer or an alias appears in the reply as whole "
                  "words: for replies that say more than the answer. Strict on numbers: '73 km' "
                  "does not hit '7.3 km', and a number needs its unit (a bare '19' does not "
                  "hit '19 weeks').",
    "f1": "Token F1 between reply and gold (SQuAD): 2PR / (P + R) over shared words.",
    "mc_accuracy": "Multiple choice: 1 when the model gives the correct choice the highest mean "
                   "log-likelihood per token under the mode's own prompt (no generation).",
    "mc_accuracy_sum": "The same with the summed log-likelihood (favours short choices).",
    "hit_rate": "1 when a chunk of the question's source document is among the top-k retrieved.",
    "mrr": "1 / rank of the first retrieved chunk from the source document (0 if absent).",
    "grounding_overlap": "Share of the reply's words found in the retrieved text (a local proxy, "
                         "not an LLM judge).",
    "grounding_cosine": "Highest embedding cosine between the reply and a retrieved chunk.",
    "relevance": "Embedding cosine between question and reply (topicality, not correctness).",
    "extractive_rate": "Share of answers that are an evidence passage rather than the model's "
                       "text (1 for the retrieval-only mode; 0 for model modes unless the "
                       "extractive fallback was turned on).",
}
CHART_METRICS = ["exact_match", "answer_hit", "f1", "mc_accuracy", "hit_rate", "mrr",
                 "grounding_overlap", "grounding_cosine", "relevance"]
ROW_COLUMNS = ["id", "mode", "question", "gold", "prediction", "extractive", "known",
               "exact_match", "answer_hit", "f1",
               "mc_choice", "mc_correct", "hit", "reciprocal_rank", "grounding_overlap",
               "relevance", "seconds"]
COMPARED_ON = ["answer_hit", "f1", "exact_match", "mc_accuracy"]
FILTERS = {
    "All questions": None,
    "RAG beats fine-tuned": (RAG, FINETUNED),
    "Fine-tuned beats RAG": (FINETUNED, RAG),
    "RAG beats base": (RAG, BASE),
    "Fine-tuned beats base": (FINETUNED, BASE),
    "Fine-tuned + RAG beats RAG": (FINETUNED_RAG, RAG),
    "RAG beats retrieval only": (RAG, EXTRACTIVE),
    "Retrieval only beats RAG": (EXTRACTIVE, RAG),
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
    """One row per mode with every aggregate and the 95 % interval of each compared metric
    (``answer_hit 95% CI``); a fallback's own row (``rag+fallback``) after its mode's."""
    rows = []
    fallback = run.get("fallback_aggregates") or {}
    for m, agg in run["aggregates"].items():
        for name, a in ((m, agg), (f"{m}+fallback", fallback.get(f"{m}+fallback"))):
            if a is None:
                continue
            row = {"mode": name, **{k: v for k, v in a.items()
                                    if k not in ("unavailable", "ci95", "new_only")}}
            for metric in COMPARED_METRICS:
                if (a.get("ci95") or {}).get(metric):
                    row[f"{metric} 95% CI"] = format_interval(a["ci95"][metric])
            rows.append(row)
    return pd.DataFrame(rows)


def comparisons_frame(run: dict, metric: str | None = None) -> pd.DataFrame:
    """The run's paired verdicts (mode a vs mode b on one metric), optionally one metric's."""
    rows = [{"a": c["a"], "b": c["b"], "metric": c["metric"], "n": c["n"],
             "delta (a - b)": c["delta"], "95% CI": format_interval(c["ci95"]),
             "verdict": c["verdict"]}
            for c in run.get("comparisons") or () if metric in (None, c["metric"])]
    return pd.DataFrame(rows, columns=["a", "b", "metric", "n", "delta (a - b)", "95% CI",
                                       "verdict"])


def new_only_frame(run: dict) -> pd.DataFrame | None:
    """Per mode, the scores on the questions new to the model (the base model alone missed
    them); None when the run has no base answers to tell them apart."""
    rows = []
    for m, agg in run["aggregates"].items():
        new = agg.get("new_only")
        if new is None:
            return None
        rows.append({"mode": m, "n": new["n"], **{k: new.get(k) for k in COMPARED_METRICS},
                     **{f"{k} 95% CI": format_interval((new.get("ci95") or {}).get(k))
                        for k in ("answer_hit",)}})
    return pd.DataFrame(rows)


def provenance_lines(run: dict) -> list[str]:
    """How the run's answers were made, one line per mode, then every degradation seen."""
    prov = run.get("provenance") or {}
    lines = []
    for mode, p in (prov.get("modes") or {}).items():
        if not p.get("generator"):
            lines.append(f"{mode}: no model (retrieval only)")
            continue
        parts = [p["generator"], p.get("dtype") or "dtype set by the model server",
                 f"at most {p.get('max_new_tokens')} new tokens, stop {p.get('stop')!r}"]
        if p.get("adapter"):
            parts.append(f"adapter {p['adapter']}")
        if p.get("evidence") is not None:
            parts.append("whole chunks" if p["evidence"] == 0 else
                         f"{p['evidence']} evidence sentence(s)")
        if p.get("reader") == "copy":
            parts.append("copy reader (answers are spans of the evidence)")
        if p.get("fallback"):
            parts.append("extractive fallback on (scored as its own row)")
        lines.append(f"{mode}: " + " · ".join(str(x) for x in parts))
    for what, count in (prov.get("degraded") or {}).items():
        lines.append(f"degraded on {count} answer(s): {what}")
    return lines


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


def preferred(options: list, first: object = None):
    """``first`` when it is one of ``options``, else the first option; None when there is none.

    Example: (["a", "default"], "default") -> "default"; (["a"], "default") -> "a"; [] -> None.
    """
    if first is not None and first in options:
        return first
    return options[0] if options else None


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
