"""The Experiment page's wording, tables and session-state keys (no streamlit).

The page derives questions from a knowledge base, lets the user review them in an editable
table (:func:`questions_frame` -> edited frame -> :func:`edited_items`), starts the experiment
job and renders its result: the verdict, the scores with intervals, the paired verdicts, the
cost table and the freshness test, with the HTML report as a download
(:func:`core.experiment.report.report_html`). Left out: computing anything
(:mod:`core.experiment`).

Example:
    >>> split_choices("1994 | 1871 | 2004")
    ['1994', '1871', '2004']
"""

from __future__ import annotations

import pandas as pd

from core.evaluation.intervals import format_interval
from core.experiment.config import ExperimentConfig
from core.experiment.costs import SERVING_DTYPES
from core.experiment.questions import from_rows
from core.qa import QAItem

INTRO = ("Questions about your own documents, without a QA file: names, numbers, dates and "
         "codes from the knowledge base's sentences, asked in wordings fine-tuning never sees, "
         "with four same-type choices from the same base. Review them, then run: fine-tune "
         "within the time budget, score all five modes with intervals and paired verdicts, "
         "measure cost, and change one fact to see which setup notices.")
QUESTIONS_KEY = "exp-questions"  #: the derived rows, before review
RESULT_KEY = "exp-result"
KEEP = ("exp-kb", "exp-minutes", "exp-max-questions", "exp-freshness")
EDITOR_COLUMNS = ["drop", "id", "type", "question", "answer", "aliases", "choices", "source"]
CHOICE_SEPARATOR = " | "
DEFAULTS = ExperimentConfig(kb="default")  #: the page's starting values are the engine's


def split_choices(text: object) -> list[str]:
    return [c.strip() for c in str(text or "").split("|") if c.strip()]


def questions_frame(rows: list[dict]) -> pd.DataFrame:
    """The editable review table: a Drop column, aliases and choices joined with " | "."""
    return pd.DataFrame([{**r, "drop": False,
                          "aliases": CHOICE_SEPARATOR.join(r.get("aliases") or []),
                          "choices": CHOICE_SEPARATOR.join(r.get("choices") or [])}
                         for r in rows], columns=[*EDITOR_COLUMNS, "sentence"])


def edited_items(frame: pd.DataFrame) -> list[QAItem]:
    """The reviewed questions (dropped rows left out, edits validated: UserError names the
    row)."""
    rows = []
    for record in frame.to_dict("records"):
        rows.append({**{k: (None if pd.isna(v) else v) if not isinstance(v, list) else v
                        for k, v in record.items()},
                     "choices": split_choices(record.get("choices")),
                     "aliases": split_choices(record.get("aliases")),
                     "drop": bool(record.get("drop"))})
    return from_rows(rows)


def modes_frame(result: dict) -> pd.DataFrame:
    """Scores per mode with their intervals, and on the questions new to the base model."""
    out = []
    for mode, agg in (result.get("modes") or {}).items():
        ci = agg.get("ci95") or {}
        new = agg.get("new_only") or {}
        out.append({"mode": mode, "questions": agg.get("n"),
                    "answer hit": agg.get("answer_hit"),
                    "95 % CI": format_interval(ci.get("answer_hit")),
                    "multiple choice": agg.get("mc_accuracy"),
                    "MC 95 % CI": format_interval(ci.get("mc_accuracy")),
                    "F1": agg.get("f1"), "new to the model": new.get("n"),
                    "hit on new": new.get("answer_hit")})
    return pd.DataFrame(out)


def chart_frame(result: dict) -> pd.DataFrame:
    """Answer hit per mode with the interval's distances, for an error-bar chart."""
    out = []
    for mode, agg in (result.get("modes") or {}).items():
        hit = agg.get("answer_hit") or 0.0
        low, high = (agg.get("ci95") or {}).get("answer_hit") or (hit, hit)
        out.append({"mode": mode, "answer hit": hit, "plus": high - hit, "minus": hit - low})
    return pd.DataFrame(out)


def verdicts_frame(result: dict) -> pd.DataFrame:
    return pd.DataFrame([{"question": p["question"], "verdict": p["verdict"]}
                         for p in (result.get("verdict") or {}).get("pairs", [])])


def costs_frame(result: dict) -> pd.DataFrame:
    costs = result.get("costs") or {}
    memory, latency = costs.get("serving_memory_mib") or {}, costs.get("latency") or {}
    return pd.DataFrame([
        {"mode": m, **{f"{d} MiB": (memory.get(m) or {}).get(d) for d in SERVING_DTYPES},
         "p50 s": (latency.get(m) or {}).get("p50_seconds"),
         "p95 s": (latency.get(m) or {}).get("p95_seconds"),
         "tokens / answer": (latency.get(m) or {}).get("tokens_per_answer")}
        for m in dict.fromkeys([*memory, *latency])])


def training_line(result: dict) -> str:
    costs = result.get("costs") or {}
    t = costs.get("training") or {}
    adapter = (costs.get("adapter") or {}).get("mib")
    if t.get("minutes") is None:
        return "No adapter was trained."
    how = "reused adapter" if t.get("reused") else "fine-tuning"
    return (f"{how}: {t['minutes']:.1f} min, {t.get('tokens_per_second') or 0:.0f} tokens/s, "
            f"{t.get('steps')} steps, {t.get('epochs')} epochs; adapter {adapter} MiB")


def freshness_frame(result: dict) -> pd.DataFrame | None:
    fresh = result.get("freshness") or {}
    if not fresh.get("modes"):
        return None
    return pd.DataFrame([{"mode": m, "answer": v["answer"], "gave the new value": v["says_new"],
                          "gave the old value": v["says_old"]}
                         for m, v in fresh["modes"].items()])


def freshness_line(result: dict) -> str:
    fresh = result.get("freshness") or {}
    if fresh.get("skipped"):
        return f"Freshness not measured: {fresh['skipped']}."
    return (f"Changed {fresh.get('old')} to {fresh.get('new')} in {fresh.get('document')}; "
            f"re-indexed in {fresh.get('reindex_seconds')} s (retraining: "
            f"{fresh.get('retrain_seconds')} s). Asked again: {fresh.get('question')}")


def report_name(result: dict) -> str:
    return f"experiment-{(result.get('report') or {}).get('id', 'run')}.html"
