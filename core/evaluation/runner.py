"""Evaluate answer modes over a QA file: per-question rows, per-mode aggregates, saved runs.

For every question and mode the mode prepares its prompt (retrieving if it does), the model
generates an answer (greedy; ``batch_size`` questions of a mode at once, left-padded, with the
same answers as one at a time), and the choices are scored (all of a question's choices in one
batched forward pass) by log-likelihood under the same
prompt (:mod:`core.evaluation.likelihood`). Metrics come from :mod:`core.evaluation.metrics`;
an aggregate is the mean over the questions where the metric could be computed, ``None`` with
a reason otherwise, with a 95 % interval per metric (``ci95``, :mod:`core.evaluation.intervals`).
Every mode is scored on its own output: a model mode on the model's text (with the extractive
fallback turned on, the passage it showed instead is scored as its own row,
``fallback_aggregates``), the no-model ``extractive`` mode on its passage. When ``base`` is
among the modes each question is tagged ``known`` (the base model alone already hits it) and
every mode is also scored on the questions new to the model (``new_only``). ``comparisons``
holds a paired verdict for each pair of modes and each accuracy-like metric
(:data:`COMPARED_METRICS`). ``seconds_per_question`` is retrieval + generation wall time (the
likelihood scoring is timed separately as ``scoring_seconds``). Runs are saved as JSON under
``<data_dir>/eval_runs/`` and can be listed, loaded, deleted and compared.
Answer modes and prompts come from :mod:`core.answering`; this module does not define any.

Example:
    >>> run = evaluate(items, ["base", "rag"], ctx, embedder)  # doctest: +SKIP
    >>> run["aggregates"]["rag"]["f1"]
    0.61
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from core import access
from core.answering import generate_jobs, get_mode, prepare
from core.atomic import write_text_atomic
from core.choice_scores import LikelihoodUnavailable
from core.errors import UserError
from core.evaluation import metrics
from core.evaluation.intervals import compare, mean_ci
from core.evaluation.likelihood import score_choices
from core.qa import QAItem

Progress = Callable[[float, str], None]
METRICS = ("exact_match", "answer_hit", "f1", "mc_accuracy", "mc_accuracy_sum", "hit_rate", "mrr",
           "grounding_overlap", "grounding_cosine", "relevance")
ROW_METRIC = {"exact_match": "exact_match", "answer_hit": "answer_hit", "f1": "f1",
              "mc_accuracy": "mc_correct",
              "mc_accuracy_sum": "mc_correct_sum", "hit_rate": "hit", "mrr": "reciprocal_rank",
              "grounding_overlap": "grounding_overlap", "grounding_cosine": "grounding_cosine",
              "relevance": "relevance"}
RUN_ID = re.compile(r"[0-9a-zA-Z_-]{1,80}")
#: The accuracy-like metrics every pair of modes is compared on (paired, with an interval).
COMPARED_METRICS = ("answer_hit", "exact_match", "f1", "mc_accuracy")
#: Metrics of the answer text, which the fallback's own row is scored on.
TEXT_METRICS = ("exact_match", "answer_hit", "f1")
NO_MODEL_CHOICES = "no model: the retrieval-only baseline does not score choices"


def evaluate_one(item: QAItem, mode: str, ctx, embedder) -> dict:
    """Answer one question in one mode and compute every metric for it."""
    return evaluate_batch([item], mode, ctx, embedder)[0]


def evaluate_batch(items: Sequence[QAItem], mode: str, ctx, embedder) -> list[dict]:
    """Answer ``items`` in one mode with one batched generation; a row each, in order.

    A row's ``seconds`` is its retrieval time plus its share of the batch's generation time.
    """
    jobs = [prepare(item.question, mode, ctx) for item in items]
    gens = generate_jobs(jobs, ctx, batch_size=max(1, len(jobs)))
    return [_row(item, mode, job, gen, ctx, embedder)
            for item, job, gen in zip(items, jobs, gens, strict=True)]


def _text_scores(text: str, item: QAItem) -> dict[str, metrics.Score]:
    return {"exact_match": metrics.exact_match(text, item.golds),
            "answer_hit": metrics.answer_hit(text, item.golds),
            "f1": metrics.f1_score(text, item.golds)}


def _row(item: QAItem, mode: str, job, gen, ctx, embedder) -> dict:
    seconds = job.retrieval_seconds + gen.seconds
    final = job.finish(item.question, gen.text)
    text = gen.text if job.mode.generates else final.text  # the mode's own output
    retrieves = job.mode.retrieves
    documents = [h.document for h in job.sources] if retrieves else None
    contexts = [h.text for h in job.sources] if retrieves else None
    scores = {
        **_text_scores(text, item),
        "hit": metrics.hit_rate_at_k(documents, item.source, ctx.retrieval.top_k),
        "reciprocal_rank": metrics.reciprocal_rank(documents, item.source),
        "grounding_overlap": metrics.grounding_overlap(text, contexts),
        "grounding_cosine": metrics.grounding_cosine(embedder, text, contexts),
        "relevance": metrics.relevance_cosine(embedder, item.question, text),
    }
    scoring_start = time.perf_counter()
    choice, unavailable = None, "the question has no choices"
    if not job.mode.generates:
        unavailable = NO_MODEL_CHOICES
    elif len(item.choices) >= 2 and item.correct_choice is not None:
        try:
            choice = score_choices(ctx.generator, job.prompt.prompt, item.choices,
                                   chat=job.prompt.chat, adapter=job.adapter)
        except LikelihoodUnavailable as exc:  # a model server without prompt logprobs
            unavailable = str(exc)
    if choice is not None:
        correct = item.correct_choice
        scores["mc_correct"] = metrics.Score(float(choice.best_mean == correct))
        scores["mc_correct_sum"] = metrics.Score(float(choice.best_sum == correct))
        picked = item.choices[choice.best_mean]
    else:
        scores["mc_correct"] = scores["mc_correct_sum"] = metrics.Score.missing(unavailable)
        picked = None
    row = {
        "id": item.id, "question": item.question, "gold": item.answer, "mode": mode,
        "prediction": text, "extractive": final.extractive, "mc_choice": picked,
        "source": item.source,
        "retrieved": documents, **{k: s.value for k, s in scores.items()},
        "reasons": {k: s.reason for k, s in scores.items() if s.value is None},
        "seconds": round(seconds, 4), "scoring_seconds": round(
            time.perf_counter() - scoring_start, 4), "tokens": gen.tokens,
        "degraded": list(job.degraded),
    }
    if job.fallback:  # what the user was shown, scored apart from the model's own text
        row["fallback"] = {"prediction": final.text, "extractive": final.extractive,
                           **{k: s.value for k, s in _text_scores(final.text, item).items()}}
    return row


def _means(mine: Sequence[dict], metric_keys: dict[str, str]) -> tuple[dict, dict, dict]:
    """(means, ci95, reasons) of ``metric_keys`` (aggregate name -> row key) over ``mine``."""
    means: dict[str, float | None] = {}
    intervals: dict[str, list[float] | None] = {}
    reasons: dict[str, str] = {}
    for metric, key in metric_keys.items():
        values = [r.get(key) for r in mine]
        score = metrics.mean_score(values, metric)
        means[metric] = None if score.value is None else round(score.value, 4)
        intervals[metric] = mean_ci(values)
        if score.value is None:
            first = next((r.get("reasons", {}).get(key) for r in mine
                          if r.get("reasons", {}).get(key)), "")
            reasons[metric] = first or score.reason
    return means, intervals, reasons


def tag_known(rows: Sequence[dict]) -> None:
    """Set each row's ``known``: whether the base model alone hit the question's answer
    (None when the run has no base answer for it, or its hit could not be computed)."""
    base = {r["id"]: r.get("answer_hit") for r in rows if r["mode"] == "base"}
    for r in rows:
        hit = base.get(r["id"])
        r["known"] = None if hit is None else bool(hit)


def aggregate(rows: Sequence[dict], modes: Sequence[str]) -> dict[str, dict]:
    """Per-mode means with 95 % intervals (``ci95``) and the means over the questions the base
    model did not already answer (``new_only``, None without a base row); a metric with no
    computable value is None and its reason is kept."""
    out: dict[str, dict] = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        means, intervals, reasons = _means(mine, ROW_METRIC)
        agg: dict[str, object] = {"n": len(mine), **means, "ci95": intervals}
        seconds = [r["seconds"] for r in mine]
        agg["seconds_per_question"] = round(sum(seconds) / len(seconds), 4) if seconds else None
        agg["extractive_rate"] = (round(sum(bool(r.get("extractive")) for r in mine)
                                        / len(mine), 4) if mine else None)
        agg["degraded_rate"] = (round(sum(bool(r.get("degraded")) for r in mine) / len(mine), 4)
                                if mine else None)
        new = [r for r in mine if r.get("known") is False]
        tagged = any(r.get("known") is not None for r in mine)
        if tagged:
            new_means, new_ci, _ = _means(new, {m: ROW_METRIC[m] for m in COMPARED_METRICS})
            agg["new_only"] = {"n": len(new), **new_means, "ci95": new_ci}
        else:
            agg["new_only"] = None
        agg["unavailable"] = reasons
        out[mode] = agg
    return out


def fallback_aggregates(rows: Sequence[dict], modes: Sequence[str]) -> dict[str, dict]:
    """For each mode answered with the extractive fallback on: the scores of what was shown
    (the model's text, or the passage where it was not grounded), its own row."""
    out: dict[str, dict] = {}
    for mode in modes:
        mine = [r["fallback"] for r in rows if r["mode"] == mode and r.get("fallback")]
        if mine:
            means, intervals, _ = _means(mine, {m: m for m in TEXT_METRICS})
            out[f"{mode}+fallback"] = {
                "n": len(mine), **means, "ci95": intervals,
                "extractive_rate": round(sum(bool(r["extractive"]) for r in mine) / len(mine), 4)}
    return out


def comparisons(rows: Sequence[dict], modes: Sequence[str]) -> list[dict]:
    """A paired verdict (:func:`core.evaluation.intervals.compare`) for every pair of modes
    and every metric of :data:`COMPARED_METRICS` both computed, on the questions both
    answered; pairs in the order ``modes`` lists them."""
    by = {(r["id"], r["mode"]): r for r in rows}
    ids = list(dict.fromkeys(r["id"] for r in rows))
    out = []
    for i, a in enumerate(modes):
        for b in modes[i + 1:]:
            both = [q for q in ids if (q, a) in by and (q, b) in by]
            for metric in COMPARED_METRICS:
                key = ROW_METRIC[metric]
                found = compare([by[(q, a)].get(key) for q in both],
                                [by[(q, b)].get(key) for q in both], a, b, metric)
                if found is not None:
                    out.append(found)
    return out


def evaluate(items: Sequence[QAItem], modes: Sequence[str], ctx, embedder, *,
             progress: Progress | None = None, cancel: threading.Event | None = None,
             meta: dict | None = None, batch_size: int = 8) -> dict:
    """Evaluate ``modes`` over ``items``; returns the run dict (not yet saved).

    ``batch_size`` questions are answered together per mode (one batched generation);
    progress is reported and cancel checked after each batch and mode.
    """
    if not items:
        raise UserError("the QA file has no questions to evaluate")
    if not modes:
        raise UserError("choose at least one mode")
    rows: list[dict] = []
    total = len(items) * len(modes)
    started = time.perf_counter()
    cancelled = False
    for first in range(0, len(items), batch_size):
        chunk = items[first:first + batch_size]
        by_mode: dict[str, list[dict]] = {}
        for mode in modes:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            by_mode[mode] = evaluate_batch(chunk, mode, ctx, embedder)
            if progress is not None:
                done = len(rows) + sum(map(len, by_mode.values()))
                progress(done / total, f"questions {first + 1}-{first + len(chunk)}/"
                                       f"{len(items)} · {mode}")
        # item-major order (each question's modes together); a cancelled batch keeps the
        # modes it finished
        rows.extend(r for i in range(len(chunk)) for m in modes if m in by_mode
                    for r in [by_mode[m][i]])
        if cancelled:
            break
    done = {r["id"] for r in rows}
    tag_known(rows)
    return {
        "id": time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "modes": list(modes),
        "n": len(done), "cancelled": cancelled, "seconds": round(time.perf_counter() - started, 2),
        "aggregates": aggregate(rows, modes),
        "fallback_aggregates": fallback_aggregates(rows, modes),
        "comparisons": comparisons(rows, modes), "provenance": run_provenance(ctx, modes, rows),
        "rows": rows, **(meta or {}),
    }


def run_provenance(ctx, modes: Sequence[str], rows: Sequence[dict]) -> dict:
    """How the run's answers were made: the generation and reader settings and every
    degradation seen (e.g. evidence that did not fit the window), with how often."""
    degraded: dict[str, int] = {}
    for r in rows:
        for what in r.get("degraded") or ():
            degraded[what] = degraded.get(what, 0) + 1
    return {"modes": {m: ctx.provenance(get_mode(m), ctx.adapter or None
                                        if get_mode(m).needs_adapter else None, [])
                      for m in modes},
            "degraded": degraded}


def wins(rows: Sequence[dict], metric: str, mode_a: str, mode_b: str) -> list[str]:
    """Question ids where ``mode_a`` scores strictly higher than ``mode_b`` on ``metric``.

    Example: wins(rows, "f1", "rag", "finetuned") -> questions where RAG beats fine-tuning.
    """
    key = ROW_METRIC.get(metric, metric)
    by = {(r["id"], r["mode"]): r.get(key) for r in rows}
    ids = dict.fromkeys(r["id"] for r in rows)
    return [q for q in ids if by.get((q, mode_a)) is not None and by.get((q, mode_b)) is not None
            and by[(q, mode_a)] > by[(q, mode_b)]]


# -- saved runs --------------------------------------------------------------------------------
def runs_dir(settings) -> Path:
    return settings.data_dir / "eval_runs"


def _run_path(settings, run_id: str) -> Path:
    if not RUN_ID.fullmatch(run_id or ""):
        raise UserError(f"invalid run id {run_id!r}")
    return runs_dir(settings) / f"{run_id}.json"


def save_run(settings, run: dict) -> Path:
    """Write the run atomically (:func:`core.atomic.write_text_atomic`)."""
    return write_text_atomic(_run_path(settings, run["id"]), json.dumps(run, default=str))


def list_runs(settings) -> list[dict]:
    """Summaries of saved runs, newest first (unreadable files are skipped)."""
    folder = runs_dir(settings)
    out = []
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        try:
            run = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append({k: run.get(k) for k in ("id", "created_at", "n", "modes", "kb", "adapter",
                                             "qa_file", "cancelled")})
    return out


def load_run(settings, run_id: str) -> dict:
    path = _run_path(settings, run_id)
    if not path.is_file():
        raise UserError(f"no saved evaluation run {run_id!r}")
    return json.loads(path.read_text())


def delete_run(settings, run_id: str, *, actor: access.Actor | None = None) -> None:
    """Remove a saved run; ``actor`` must be allowed ``delete`` (None: the process's actor)."""
    access.require(actor, "delete")
    path = _run_path(settings, run_id)
    if not path.is_file():
        raise UserError(f"no saved evaluation run {run_id!r}")
    path.unlink()


def compare_runs(runs: Sequence[dict]) -> list[dict]:
    """Long table: one row per (run, mode, metric) with the aggregate value."""
    return [{"run": run["id"], "mode": mode, "metric": metric, "value": agg.get(metric)}
            for run in runs for mode, agg in run["aggregates"].items()
            for metric in (*METRICS, "seconds_per_question")]


def evaluation_job(job, *, settings, items: Sequence[QAItem], modes: Sequence[str], ctx,
                   embedder, meta: dict) -> dict:
    """The ``evaluate`` job (:data:`core.jobs.KINDS`) of the Evaluate page: evaluate, then save.

    Progress and cancel come from the job (:class:`core.jobs.Job`); the saved run is returned,
    so a cancelled run keeps the questions answered so far.
    """
    run = evaluate(list(items), tuple(modes), ctx, embedder, progress=job.progress,
                   cancel=job.cancel, meta=meta)
    save_run(settings, run)
    return run
