"""What the Feedback dashboard shows: headline numbers, chart and table data, result wording,
for the page and its tabs (``app_pages/_feedback_*.py``, ``app_pages/_before_after.py``).

Plain Python and pandas over the store's records and the result dicts of learning, of the
drill, of the ranking and of the before/after comparison (no Streamlit, no plotting, no
training), so the page stays a recipe and every number here is testable. The statistics
themselves are :mod:`core.feedback.stats`, the ranking :mod:`core.feedback.ranking`.

Example:
    >>> headline_metrics([], [])
    [('Answers stored', 0), ('Rated', 0), ('Thumbs-up rate', '–'), ('A/B preferences', 0)]
    >>> drill_verdict({"delta_ci95": [-0.02, 0.05]})
    'no clear change (the interval includes 0)'
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

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
    rows = []
    for side in ("before", "after"):
        agg = out[side]["modes"][mode]
        version = f"{side}: {out[side]['label']}"
        rows += [{"metric": m, "version": version, "value": agg[m]}
                 for m in COMPARE_METRICS if agg.get(m) is not None]
    return rows


def compare_deltas(out: dict, mode: str) -> list[dict]:
    """One row per metric (and latency): before, after and after - before."""
    before = out["before"]["modes"][mode]
    after = out["after"]["modes"][mode]
    return [{"metric": m, "before": before.get(m), "after": after.get(m),
             "delta (after - before)": out["delta"][mode][m]}
            for m in (*COMPARE_METRICS, "seconds_per_question")]


def compare_questions(out: dict) -> list[dict]:
    """The answers before and after, question by question, with their F1."""
    return [{"mode": q["mode"], "question": q["question"], "gold": q["gold"],
             "before": q["before"], "after": q["after"], "F1 before": q["before_f1"],
             "F1 after": q["after_f1"]} for q in out["questions"]]


def keep_result(state: MutableMapping, key: str, snap: dict,
                convert: Callable[[object], object] | None = None) -> None:
    """A finished job's result kept under ``state[key]`` (``convert``-ed), unless the job
    failed (the job panel shows its error). Example: snap {"error": None, "result": 3} ->
    state[key] = 3; snap {"error": "boom", ...} -> state unchanged."""
    if snap["error"] is None:
        state[key] = snap["result"] if convert is None else convert(snap["result"])


BEFORE_AFTER_INTRO = (
    "Did feedback help? A feedback-trained adapter and its previous version (the adapter it "
    "continued from, or the base model when it started fresh) answer the same test-split "
    "questions of the default QA set, scored by the evaluation of the **Evaluate** page (exact "
    "match, token F1, multiple-choice log-likelihood accuracy, embedding relevance, latency). "
    "The verdict (answer hit, paired bootstrap 95 % interval) is saved with the adapter. Same "
    "as `python -m core feedback compare`.")
#: Where an adapter trained from feedback comes from (its metadata's ``source``).
FEEDBACK_SOURCES = ("feedback", "drill")


def feedback_adapters(adapters: list[dict]) -> list[str]:
    """Names of the adapters trained from feedback or by the drill (the before/after choices)."""
    return [a["name"] for a in adapters if a.get("source") in FEEDBACK_SOURCES]


def learn_intro(adapters_dir) -> str:
    """What "Learn from feedback" does and where the adapter is saved."""
    return ("Train a NEW LoRA adapter on the ratings: KTO (unpaired thumbs, weighted for "
            "imbalanced up/down counts) or DPO (A/B pairs). It is saved under "
            f"`{adapters_dir}` with the feedback snapshot it learned from.")


def drill_intro(rule: str) -> str:
    """What the drill simulates; ``rule`` is how it rates an answer."""
    return ("**What this simulates.** There are no real users here: "
            f"{rule}. The drill answers training questions of the QA set several times "
            "(sampling), rates every answer by that rule, stores the ratings marked "
            "*simulated* (they stay out of the statistics and exports above unless "
            "*Include simulated ratings* is ticked), trains a new LoRA adapter on them (DPO on "
            "👍/👎 pairs of answers to the same question) and answers held-out test questions "
            "before and after. Same as `python -m core feedback drill`.")


DRILL_INTERVAL_NOTE = ("Interval: paired bootstrap over questions (Efron & Tibshirani 1993), "
                       "10,000 resamples.")


def drill_verdict(out: dict) -> str:
    """What the drill's 95 % interval of after - before says."""
    low, high = out["delta_ci95"]
    if low > 0:
        return "helped"
    if high < 0:
        return "made it worse"
    return "no clear change (the interval includes 0)"


def drill_message(out: dict) -> tuple[str, str]:
    """(Streamlit call, text) of a finished drill (its ``to_cli()`` dict): 'success' when it
    helped, else 'info'."""
    low, high = out["delta_ci95"]
    text = (f"{out['metric']} on {out['heldout_questions']} held-out questions: "
            f"{out['before']:.3f} before, {out['after']:.3f} after; delta "
            f"{out['delta']:+.3f} (95 % CI {low:+.3f} to {high:+.3f}): {drill_verdict(out)}. "
            f"Adapter {out['adapter']}, {out['seconds']:.0f} s.")
    return ("success" if low > 0 else "info"), text


def drill_bars(out: dict) -> list[dict]:
    """The before/after bars: one row per version with the drill's metric."""
    return [{"version": "before (base model)", out["metric"]: out["before"]},
            {"version": f"after ({out['adapter']})", out["metric"]: out["after"]}]


def ranking_rows(rows: list[dict]) -> list[dict]:
    """The ranking table: ``ci95`` as text. Example: (950.4, 1049.6) -> '950 – 1050'."""
    return [{**r, "ci95": f"{r['ci95'][0]:.0f} – {r['ci95'][1]:.0f}"} for r in rows]


def ranking_caption(games: int) -> str:
    """What the ranking is made of and how to read it."""
    return (f"{games} games: A/B preferences (ties count half) and 👍-beats-👎 on the same "
            "question. Ratings average 1000; +400 means 10:1 odds (Chatbot Arena's scale); "
            "95 % bootstrap intervals, 500 resamples. Same as `python -m core feedback ranking`.")
