"""What the Feedback dashboard shows: headline numbers, chart and table data, result wording.

Plain Python and pandas over the store's records and the result dicts of learning and of the
before/after comparison (no Streamlit, no plotting, no training), so the page stays a recipe
and every number here is testable. The statistics themselves are :mod:`core.feedback.stats`.

Example:
    >>> headline_metrics([], [])
    [('Answers stored', 0), ('Rated', 0), ('Thumbs-up rate', '–'), ('A/B preferences', 0)]
"""

from __future__ import annotations

import pandas as pd

from core.feedback.schema import OutputRecord, PreferenceRecord
from core.feedback.stats import records_frame

#: The before/after metrics charted as fractions (latency is in the delta table only).
COMPARE_METRICS = ("exact_match", "f1", "mc_accuracy", "relevance", "grounding_overlap")
TABLE_ORDER = ["prompt", "output", "rating", "comment", "mode", "model", "page", "reward",
               "latency_seconds", "id", "created_at", "updated_at", "session_id"]
MARKS = {"up": "👍", "down": "👎"}


def headline_metrics(records: list[OutputRecord],
                     prefs: list[PreferenceRecord]) -> list[tuple[str, object]]:
    """(label, value) of the four numbers atop the dashboard; 4 up of 7 rated -> '57%'."""
    rated = [r for r in records if r.rating is not None]
    up = sum(r.rating == "up" for r in rated)
    return [("Answers stored", len(records)), ("Rated", len(rated)),
            ("Thumbs-up rate", f"{up / len(rated):.0%}" if rated else "–"),
            ("A/B preferences", len(prefs))]


def up_rate_bars(rates: list[dict]) -> dict:
    """Keyword arguments of a plotly ``go.Bar``: up-rates with asymmetric Wilson error bars."""
    return {"x": [r["group"] for r in rates], "y": [r["up_rate"] for r in rates],
            "error_y": {"type": "data", "symmetric": False,
                        "array": [r["wilson_high"] - r["up_rate"] for r in rates],
                        "arrayminus": [r["up_rate"] - r["wilson_low"] for r in rates]},
            "text": [f"{r['up']}/{r['n']}" for r in rates]}


def prompt_counts(records: list[OutputRecord]) -> pd.Series:
    """Answers per prompt, most answered first (the drill-down's question list)."""
    return records_frame(records).groupby("prompt").size().sort_values(ascending=False)


def answer_caption(r: OutputRecord, model: str) -> str:
    """Example: '#3 · rag · SmolLM2 · 👍 · 2025-01-02 10:00 UTC'."""
    return (f"#{r.id} · {r.mode} · {model} · {MARKS.get(r.rating or '', 'not rated')} · "
            f"{r.created_at:%Y-%m-%d %H:%M} UTC")


def linked_preferences(prefs: list[PreferenceRecord], ids: set[int]) -> list[dict]:
    """The preferences that involve any of the answers ``ids``."""
    return [p.to_dict() for p in prefs if p.output_a_id in ids or p.output_b_id in ids]


def plan_message(plan) -> str:
    """Example: 'Ready: KTO on 9 examples (5 up, 4 down, 0 pairs).'"""
    return (f"Ready: {plan.method.upper()} on {len(plan.examples)} examples "
            f"({plan.counts['up']} up, {plan.counts['down']} down, {plan.counts['pairs']} "
            "pairs).")


def learn_message(result) -> str:
    """One line about a saved feedback adapter (a ``LearnResult``)."""
    return (f"Adapter {result.adapter!r} saved: {result.method.upper()}, {result.records} "
            f"examples, train loss {result.train_loss:.4f}, {result.seconds:.1f} s.")


def compare_message(out: dict) -> str:
    """Example: 'Before: fb-v1 · after: fb-v2 · 3 questions.'"""
    return (f"Before: {out['before']['label']} · after: {out['after']['label']} · "
            f"{out['n']} questions.")


def compare_bars(out: dict, mode: str) -> list[dict]:
    """Long rows (metric, version, value) of the computed :data:`COMPARE_METRICS` of ``mode``."""
    return [{"metric": m, "version": f"{side}: {out[side]['label']}", "value": agg[m]}
            for side in ("before", "after") for agg in [out[side]["modes"][mode]]
            for m in COMPARE_METRICS if agg.get(m) is not None]


def compare_deltas(out: dict, mode: str) -> list[dict]:
    """One row per metric (and latency): before, after and after - before."""
    before, after = out["before"]["modes"][mode], out["after"]["modes"][mode]
    return [{"metric": m, "before": before.get(m), "after": after.get(m),
             "delta (after - before)": out["delta"][mode][m]}
            for m in (*COMPARE_METRICS, "seconds_per_question")]


def compare_questions(out: dict) -> list[dict]:
    """The answers before and after, question by question, with their F1."""
    return [{"mode": q["mode"], "question": q["question"], "gold": q["gold"],
             "before": q["before"], "after": q["after"], "F1 before": q["before_f1"],
             "F1 after": q["after_f1"]} for q in out["questions"]]
