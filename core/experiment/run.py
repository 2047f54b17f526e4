"""The experiment: questions from the documents, fine-tune within a budget, evaluate every
mode, cost, freshness, verdict, report; one call, one background job, one saved run.

:func:`run_experiment` runs the stages in order, reporting progress (the fine-tuning share is
its time budget) and checking ``cancel`` between them and inside the long ones:

1. questions (:mod:`core.experiment.questions`, or the reviewed ones the caller passes), minus
   any that appears verbatim in the training examples the recipe builds for this base
   (:func:`core.finetune.pipeline.build_examples`);
2. fine-tuning within ``minutes`` (:func:`core.finetune.pipeline.run_finetune`), or a named
   adapter that exists already;
3. evaluation of base / extractive / rag / finetuned / finetuned+rag on the questions
   (:func:`core.evaluation.runner.evaluate`: intervals, paired verdicts, known vs new), saved
   as an evaluation run too;
4. costs (:mod:`core.experiment.costs`), freshness (:mod:`core.experiment.freshness`), the
   verdict (:mod:`core.experiment.verdict`) and, when asked, the HTML report.

The result has exactly the keys of :data:`RESULT_KEYS`; it is saved under
``<data>/experiments/<id>.json``. Left out: the wording of pages (presenter) and the CLI.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from core.adapters import AdapterRegistry
from core.answering import ALL_MODES, make_context
from core.atomic import write_text_atomic
from core.errors import UserError
from core.evaluation.runner import evaluate, save_run
from core.experiment.config import ExperimentConfig
from core.experiment.costs import experiment_costs
from core.experiment.freshness import run_freshness
from core.experiment.questions import derive_questions, drop_trained, rows
from core.experiment.report import report_html
from core.experiment.verdict import write_verdict
from core.finetune import pipeline
from core.finetune.config import LoraSettings
from core.names import suggest_name
from core.qa import QAItem
from core.training.callbacks import TrainingHooks

__all__ = ["RESULT_KEYS", "ExperimentConfig", "experiment_job", "list_experiments",
           "load_experiment", "run_experiment", "save_experiment", "write_report"]

Progress = Callable[[float, str], None]
RESULT_KEYS = ("questions", "modes", "comparisons", "costs", "freshness", "verdict", "report")
EXPERIMENT_ID = re.compile(r"[0-9a-zA-Z_-]{1,80}")
#: Shares of the progress bar outside fine-tuning (which takes the rest, by its budget).
QUESTIONS_SHARE, EVALUATE_SHARE, FRESHNESS_SHARE = 0.02, 0.3, 0.06


def default_adapter_name(kb: str) -> str:
    return suggest_name(f"exp-{kb[:40]}-{time.strftime('%Y%m%d-%H%M%S')}", "adapter")


def training_texts(settings, kb: str, lora: LoraSettings, tokenizer, is_seq2seq: bool
                   ) -> list[str]:
    """Every prompt and target the recipe would train on for ``kb`` (what no question may
    repeat verbatim)."""
    chunks = pipeline.kb_chunks(settings, kb)
    data = pipeline.build_examples(settings, lora, chunks, tokenizer, is_seq2seq)
    return [text for ex in [*data.train, *data.held_out] for text in (ex.prompt, ex.target)]


def questions_for(settings, kb: str, max_questions: int,
                  lora: LoraSettings | None = None) -> list[QAItem]:
    """Derived questions for ``kb`` with those seen verbatim in training removed."""
    from core.tokenizer_loader import load_generator_tokenizer  # transformers: not at --help

    items = derive_questions(pipeline.kb_chunks(settings, kb), max_questions=max_questions)
    tokenizer, is_seq2seq = load_generator_tokenizer(settings)
    items = drop_trained(items, training_texts(settings, kb, lora or LoraSettings(), tokenizer,
                                               is_seq2seq))
    if not items:
        raise UserError(f"no questions could be derived from {kb!r}: its sentences have too "
                        "few names, numbers, dates or codes of one type (four of a type are "
                        "needed for four choices)")
    return items


def _scaled(progress: Progress | None, start: float, share: float) -> Progress:
    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(start + share * max(0.0, min(1.0, fraction)), message)
    return report


def _train(settings, config: ExperimentConfig, adapter: str, progress: Progress,
           cancel: threading.Event | None) -> dict | None:
    """Train ``adapter`` within the budget; its summary (None when cancelled)."""
    lora = LoraSettings(minutes=config.minutes)
    hooks = TrainingHooks(progress=progress, cancel=cancel,
                          step=lambda s, t, loss: progress(s / t if t else 0.0,
                                                           f"fine-tuning: step {s}/{t}, "
                                                           f"loss {loss:.4f}"))
    summary = pipeline.run_finetune(settings, config.kb, adapter, lora, hooks=hooks)
    if summary.get("cancelled"):
        if summary.get("partial") is not None:
            summary["partial"].discard()
        return None
    summary.pop("partial", None)
    return summary


def run_experiment(settings, config: ExperimentConfig, *, items: Sequence[QAItem] | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None,
                   report_path: Path | str | None = None, actor=None, generator=None,
                   embedder=None, store=None) -> dict:
    """Run every stage (module docstring); returns the result (:data:`RESULT_KEYS`), saved."""
    started = time.perf_counter()
    registry = AdapterRegistry.of(settings)
    reuse = bool(config.adapter) and registry.exists(config.adapter)
    train_share = 0.0 if reuse else 1 - QUESTIONS_SHARE - EVALUATE_SHARE - FRESHNESS_SHARE
    say = _scaled(progress, 0, 1)
    say(0.0, f"deriving questions from {config.kb!r}")
    if items is None:
        items = questions_for(settings, config.kb, config.max_questions)
    items = list(items)
    if not items:
        raise UserError("no questions to ask")
    if config.fresh_question and config.fresh_question not in {i.id for i in items}:
        raise UserError(f"no question {config.fresh_question!r} to change for the freshness "
                        "test")
    result_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    adapter = suggest_name(config.adapter, "adapter") if config.adapter else \
        default_adapter_name(config.kb)
    cancelled = lambda: cancel is not None and cancel.is_set()  # noqa: E731
    if reuse:
        training = {**registry.metadata(adapter), "reused": True}
    else:
        training = _train(settings, config, adapter,
                          _scaled(progress, QUESTIONS_SHARE, train_share), cancel)
        if training is None or cancelled():
            raise UserError("the experiment was cancelled during fine-tuning; nothing saved")
    at = QUESTIONS_SHARE + train_share
    modes = list(ALL_MODES)
    ctx = make_context(settings, config.kb, adapter=adapter, modes=modes, top_k=config.top_k,
                       search=config.search, generator=generator, embedder=embedder,
                       store=store)
    embedder = ctx.store.embedder
    run = evaluate(items, modes, ctx, embedder, progress=_scaled(progress, at, EVALUATE_SHARE),
                   cancel=cancel, batch_size=config.batch_size,
                   meta={"kb": config.kb, "adapter": adapter, "qa_file": "derived questions",
                         "split": "test", "experiment": result_id})
    save_run(settings, run)
    if run["cancelled"]:
        raise UserError(f"the experiment was cancelled during evaluation; the "
                        f"{run['n']} questions answered are saved as evaluation run {run['id']}")
    costs = experiment_costs(settings, run["rows"], modes, training=training,
                             adapter_folder=registry.path(adapter))
    say(at + EVALUATE_SHARE, "freshness: changing one fact and re-indexing a copy")
    freshness = {"skipped": "turned off"}
    if config.freshness:
        freshness = run_freshness(settings, ctx, embedder, items, modes=modes,
                                  retrain_seconds=costs["training"]["minutes"] * 60
                                  if costs["training"].get("minutes") else None, actor=actor,
                                  question_id=config.fresh_question, value=config.fresh_value)
    aggregates = run["aggregates"]
    verdict = write_verdict(aggregates, run["comparisons"], costs, freshness, run["n"])
    result = {
        "questions": {"n": len(items), "derived": all(i.extra.get("derived") for i in items),
                      "items": rows(items)},
        "modes": aggregates,
        "comparisons": run["comparisons"],
        "costs": costs,
        "freshness": freshness,
        "verdict": verdict,
        "report": {"id": result_id, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                   "title": f"RAG vs fine-tuning on {config.kb}",
                   "seconds": round(time.perf_counter() - started, 1),
                   "eval_run": run["id"], "adapter": adapter,
                   "settings": {**asdict(config), "generator": settings.generator_model,
                                "embedder": settings.embedding_model},
                   "provenance": run["provenance"]["modes"], "html": None},
    }
    if report_path is not None:
        say(0.99, "writing the report")
        result["report"]["html"] = str(write_report(result, report_path))
    save_experiment(settings, result)
    say(1.0, f"done: {len(items)} questions, {len(modes)} modes")
    return result


def check_report_path(path: Path | str) -> Path:
    """``path`` if a report can be written there: an .html name in an existing folder."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"the report must be an .html file, got {path.name[:100]!r}")
    try:
        found = path.parent.is_dir()
    except (OSError, ValueError):  # a name the OS refuses
        found = False
    if not found:
        raise UserError(f"folder not found for the report: {str(path.parent)[:200]}")
    return path


def write_report(result: dict, path: Path | str) -> Path:
    """Write :func:`core.experiment.report.report_html` of ``result`` to ``path``."""
    return write_text_atomic(check_report_path(path), report_html(result))


# -- saved experiments ---------------------------------------------------------------------
def experiments_dir(settings) -> Path:
    return settings.data_dir / "experiments"


def _path(settings, experiment_id: str) -> Path:
    if not EXPERIMENT_ID.fullmatch(experiment_id or ""):
        raise UserError(f"invalid experiment id {experiment_id!r}")
    return experiments_dir(settings) / f"{experiment_id}.json"


def save_experiment(settings, result: dict) -> Path:
    return write_text_atomic(_path(settings, result["report"]["id"]),
                             json.dumps(result, default=str))


def load_experiment(settings, experiment_id: str) -> dict:
    path = _path(settings, experiment_id)
    if not path.is_file():
        raise UserError(f"no saved experiment {experiment_id!r}")
    return json.loads(path.read_text())


def list_experiments(settings) -> list[dict]:
    """Summaries of saved experiments, newest first (unreadable files skipped)."""
    folder = experiments_dir(settings)
    out = []
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        report = result.get("report") or {}
        out.append({"id": report.get("id"), "created_at": report.get("created_at"),
                    "kb": (report.get("settings") or {}).get("kb"),
                    "questions": (result.get("questions") or {}).get("n"),
                    "headline": (result.get("verdict") or {}).get("headline")})
    return out


def experiment_job(job, *, settings, config: ExperimentConfig,
                   items: Sequence[QAItem] | None = None, generator=None, embedder=None,
                   store=None) -> dict:
    """The ``experiment`` job (:data:`core.jobs.KINDS`): progress, ETA and cancel from the job."""
    return run_experiment(settings, config, items=items, progress=job.progress,
                          cancel=job.cancel, actor=job.actor, generator=generator,
                          embedder=embedder, store=store)
