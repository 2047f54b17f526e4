"""Before/after: did learning from feedback help? Evaluate the new adapter against its parent.

The "before" version is the adapter the new one continued from (``parent_adapter`` in its
metadata) or, when it started from scratch, the base model: ``finetuned`` is compared with
``base`` and ``finetuned+rag`` with ``rag`` (:func:`core.answering.without_adapter`). Both
versions answer the SAME questions with the same settings through the evaluation
(:func:`core.evaluation.runner.evaluate`: exact
match, token F1, multiple-choice log-likelihood accuracy, grounding, relevance, latency); no
metric is defined here. ``delta = after - before`` per mode and metric (``None`` when either side
could not compute it). Both runs are saved under ``<data_dir>/eval_runs/`` like any evaluation.
This module does not train and does not pick the questions' split (callers do; the default is
:func:`default_items`, the default QA set's test split).

Example (a parent with F1 0.25 and a new adapter with F1 0.5 on the same 8 questions):
    >>> out = compare_versions(settings, "fb-v2", default_items(8))  # doctest: +SKIP
    >>> out["before"]["label"], out["delta"]["finetuned"]["f1"]
    ('fb-v1', 0.25)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core import access
from core.answering import ADAPTER_MODES, FINETUNED, make_context, without_adapter
from core.errors import UserError
from core.evaluation.intervals import BOOTSTRAP_ROUNDS, paired_bootstrap  # noqa: F401
from core.evaluation.runner import METRICS, evaluate, save_run
from core.qa import QAItem
from core.settings import Settings

Progress = Callable[[float, str], None]
#: What each adapter mode falls back to when the "before" version is the base model.
BASE_OF = {m: without_adapter(m) for m in ADAPTER_MODES}
DELTA_METRICS = (*METRICS, "seconds_per_question")
#: The per-question score the stored verdict ("did it help?") is judged on, and its resamples.
VERDICT_METRIC = "answer_hit"


def verdict(before: Sequence[float], after: Sequence[float], *, metric: str = VERDICT_METRIC,
            mode: str = "", seed: int = 0) -> dict:
    """``{"metric", "mode", "n", "before", "after", "delta", "delta_ci95", "helped"}``;
    helped = the interval's lower end is above 0."""
    b, a = float(np.mean(before)), float(np.mean(after))
    low, high = paired_bootstrap(before, after, seed=seed)
    return {"metric": metric, "mode": mode, "n": len(before), "before": round(b, 4),
            "after": round(a, 4), "delta": round(a - b, 4),
            "delta_ci95": [round(low, 4), round(high, 4)], "helped": low > 0}


def default_items(limit: int, qa_file=None, *, max_bytes: int | None = None) -> list[QAItem]:
    """The first ``limit`` test-split questions of ``qa_file`` (default: the built-in QA set)."""
    from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split

    if limit < 1:
        raise UserError(f"limit must be at least 1, got {limit}")
    items = select_split(load_qa_file(qa_file or DEFAULT_QA_FILE, max_bytes=max_bytes), "test")
    if not items:
        raise UserError(f"{qa_file or DEFAULT_QA_FILE} has no test-split questions")
    return items[:limit]


def previous_version(settings: Settings, adapter: str) -> str | None:
    """The parent adapter recorded in ``adapter``'s metadata, or None (= the base model)."""
    from core.adapters import AdapterRegistry

    registry = AdapterRegistry.of(settings)
    registry.require(adapter)
    parent = registry.metadata(adapter).get("parent_adapter")
    if parent:
        registry.require(parent)  # a deleted parent cannot be the "before"
    return parent or None


def metric_deltas(before: dict, after: dict) -> dict[str, float | None]:
    """``after - before`` for every metric both sides computed, else None.

    Example: before f1 0.25, after f1 0.5 -> {"f1": 0.25, ...}; hit_rate None -> None.
    """
    out: dict[str, float | None] = {}
    for metric in DELTA_METRICS:
        a, b = after.get(metric), before.get(metric)
        out[metric] = None if a is None or b is None else round(a - b, 4)
    return out


def _pairs(before_rows: list[dict], after_rows: list[dict], mode_map: dict[str, str]) -> list:
    """One row per (question, mode): both answers and both F1 / EM / MC scores."""
    by = {(r["id"], r["mode"]): r for r in before_rows}
    out = []
    for r in after_rows:
        b = by.get((r["id"], mode_map[r["mode"]]), {})
        out.append({"id": r["id"], "mode": r["mode"], "question": r["question"],
                    "gold": r["gold"], "before": b.get("prediction"), "after": r["prediction"],
                    "before_f1": b.get("f1"), "after_f1": r.get("f1"),
                    "before_em": b.get("exact_match"), "after_em": r.get("exact_match"),
                    "before_mc": b.get("mc_correct"), "after_mc": r.get("mc_correct"),
                    "before_hit": b.get("answer_hit"), "after_hit": r.get("answer_hit")})
    return out


def record_verdict(settings: Settings, out: dict) -> dict | None:
    """Store ``out``'s verdict (first mode, :data:`VERDICT_METRIC`) in the new adapter's
    metadata (``before_after``; atomic, through the adapter registry), so the adapter list
    shows whether it helped. None when no question has the metric on both sides."""
    from core.adapters import AdapterRegistry

    mode = out["modes"][0]
    rows = [q for q in out["questions"] if q["mode"] == mode
            and q.get("before_hit") is not None and q.get("after_hit") is not None]
    if not rows:
        return None
    result = {**verdict([q["before_hit"] for q in rows], [q["after_hit"] for q in rows],
                        mode=mode),
              "before_label": out["before"]["label"], "run_ids": out["run_ids"]}
    AdapterRegistry.of(settings).update_metadata(out["adapter"], {"before_after": result})
    return result


def compare_versions(settings: Settings, new_adapter: str, items: Sequence[QAItem],
                     modes: Sequence[str] = (FINETUNED,), *, kb: str = "default",
                     progress: Progress | None = None, generator=None, embedder=None,
                     store=None, max_new_tokens: int = 40, save: bool = True,
                     actor: access.Actor | None = None) -> dict:
    """Evaluate the previous version and ``new_adapter`` on ``items``; returns both + deltas.
    ``actor`` must be allowed ``evaluate`` (None: the process's actor, see core.access).

    Returns ``{"adapter", "parent", "n", "modes", "before": {"label", "adapter", "modes":
    {MODE: aggregates}}, "after": {...}, "delta": {MODE: {METRIC: after - before}},
    "questions": [{"id", "question", "gold", "before", "after", ...}], "run_ids",
    "verdict"}``; the verdict (paired bootstrap on answer hit, :func:`verdict`) is also stored
    in the adapter's metadata when ``save``. The
    before side's aggregates are keyed by the new adapter's mode names so they line up.
    ``store`` (a page's cached KnowledgeStore) is opened once for both sides when not given.
    """
    access.require(actor, "evaluate")

    modes = list(dict.fromkeys(modes))
    bad = [m for m in modes if m not in BASE_OF]
    if not modes or bad:
        raise UserError(f"before/after compares adapter modes only ({', '.join(BASE_OF)}); "
                        f"got {modes}")
    items = list(items)
    if not items:
        raise UserError("no questions to compare on")
    parent = previous_version(settings, new_adapter)
    before_modes = modes if parent else [BASE_OF[m] for m in modes]
    mode_map = dict(zip(modes, before_modes, strict=True))
    if embedder is None:
        from core.loaders import load_embedder

        embedder = load_embedder(settings)
    report = progress or (lambda _f, _m: None)
    runs = {}
    for side, adapter, side_modes, lo in (("before", parent or "", before_modes, 0.0),
                                          ("after", new_adapter, modes, 0.5)):
        label = adapter or "base model"
        ctx = make_context(settings, kb, adapter=adapter, modes=side_modes,
                           max_new_tokens=max_new_tokens, generator=generator,
                           embedder=embedder, store=store)
        generator, store = ctx.generator, ctx.store or store  # loaded once for both sides
        runs[side] = evaluate(
            items, side_modes, ctx, embedder,
            progress=lambda f, m, lo=lo, label=label: report(lo + f / 2, f"{label}: {m}"),
            meta={"kb": kb, "adapter": adapter, "comparison": f"feedback:{new_adapter}",
                  "side": side, "generator": settings.generator_model})
        if save:
            save_run(settings, runs[side])
    before = {m: runs["before"]["aggregates"][mode_map[m]] for m in modes}
    after = {m: runs["after"]["aggregates"][m] for m in modes}
    out = {
        "adapter": new_adapter, "parent": parent, "n": runs["after"]["n"], "modes": modes,
        "before": {"label": parent or "base model", "adapter": parent, "modes": before},
        "after": {"label": new_adapter, "adapter": new_adapter, "modes": after},
        "delta": {m: metric_deltas(before[m], after[m]) for m in modes},
        "questions": _pairs(runs["before"]["rows"], runs["after"]["rows"], mode_map),
        "run_ids": {"before": runs["before"]["id"], "after": runs["after"]["id"]},
    }
    out["verdict"] = record_verdict(settings, out) if save else None
    return out


def versions_job(job, *, settings, adapter: str, items: Sequence[QAItem], modes: Sequence[str],
                 generator, embedder, store) -> dict:
    """The ``fb-compare`` job of the Feedback page: a feedback-trained ``adapter`` against its
    previous version (:func:`compare_versions`), checked again for the actor who started the
    job."""
    return compare_versions(settings, adapter, list(items), list(modes),
                            generator=generator, embedder=embedder, store=store,
                            progress=job.progress, actor=job.actor)
