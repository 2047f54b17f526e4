"""Benchmark emotion models: train several in turn and read every saved model's test results
back for comparison.

:func:`plan` turns the page's choices into validated :class:`TrainConfig` objects;
:func:`train_many` trains them one after another (each is saved with its metrics by
:func:`core.emotions.training.train`), stops at the first refused model with its message, and
stops within one progress report when ``cancel`` is set (every transformer step; per tweet
chunk / fold / fit for classical models; models already finished stay saved). The comparison is
read from the models store (:func:`results_table`, :func:`saved_result`), so it survives the
session and includes models trained from the CLI. :func:`training_job` is the body of the
page's ``emo-train`` background job (:data:`core.jobs.KINDS`). It does not render anything.

Example:
    >>> [c.name for c in plan(["logreg", "transformer"], "page")]
    ['page-logreg', 'page-transformer']
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.emotions.config import DISTILL, ENCODER_MODELS, ENSEMBLE_SIZE
from core.emotions.datasets import LabelledData, check_texts
from core.emotions.models_store import list_models, model_summary
from core.emotions.preprocess import PreprocessConfig
from core.emotions.training import TrainConfig, train
from core.errors import UserError
from core.evaluation.intervals import format_interval
from core.settings import Settings

MODEL_LABELS = {"logreg": "Logistic regression (C search)", "random_forest": "Random forest",
                "linear_svc": "Linear SVC",
                "stacking": "Stacking (LR + SVC + NB)",
                "sentence_logreg": "Sentence embeddings + LR",
                "hybrid": "TF-IDF LR + sentence LR (mean)",
                "transformer": "Fine-tuned transformer",
                "transformer_hybrid": "Fine-tuned transformer + TF-IDF LR (mean)"}


class _Cancelled(Exception):
    """Raised from inside a progress report to unwind a training run that was cancelled."""


def plan(models: list[str], prefix: str, *, oversample: bool = False, cv_folds: int = 3,
         epochs: int = 6, preprocess: PreprocessConfig | None = None,
         group_map: dict[str, str] | None = None, refit: bool = True,
         emoji_features: bool = True, ensemble_size: int = ENSEMBLE_SIZE,
         distill: float = DISTILL) -> list[TrainConfig]:
    """One config per model, saved as ``<prefix>-<model>``; the transformer keeps its own
    light preprocessing, classical models use ``preprocess``; ``refit``: the saved model is
    refit on every row once the held-out split is scored; ``emoji_features``: the TF-IDF
    models append the emoji predictor's probabilities; ``ensemble_size``: fine-tuned
    transformer copies averaged; ``distill``: the transformer's weight on the TF-IDF
    teacher's soft targets (0 = labels only)."""
    if not models:
        raise UserError("choose at least one model to train")
    return [TrainConfig(model=m, name=f"{prefix.strip()}-{m}", oversample=oversample,
                        cv_folds=int(cv_folds), epochs=int(epochs),
                        preprocess=None if m in ENCODER_MODELS else preprocess,
                        group_map=group_map or None, refit=refit,
                        emoji_features=emoji_features, ensemble_size=int(ensemble_size),
                        distill=float(distill))
            for m in models]


def train_many(data: LabelledData, configs: list[TrainConfig], data_dir: Path,
               progress: Callable[[float, str], None] | None = None,
               on_loss: Callable[[dict], None] | None = None,
               cancel: threading.Event | None = None, base=None, *,
               settings: Settings | None = None) -> dict:
    """Train ``configs`` in turn; {"trained": [names], "error": str|None, "cancelled": bool}.

    A refused model (UserError) stops the rest and is reported in "error"; a bad text column
    (mostly numbers) is refused before anything trains.
    """
    check_texts(data)
    trained: list[str] = []
    for i, config in enumerate(configs):
        label = MODEL_LABELS[config.model]

        def report(fraction: float, message: str, i=i, label=label) -> None:
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            if progress is not None:
                progress((i + min(fraction, 1.0)) / len(configs), f"{label}: {message}")

        try:
            train(data, config, Path(data_dir), progress=report, on_loss=on_loss, base=base,
                  settings=settings)
        except _Cancelled:
            return {"trained": trained, "error": None, "cancelled": True}
        except UserError as exc:
            return {"trained": trained, "error": f"{label}: {exc}", "cancelled": False}
        trained.append(config.name)
    return {"trained": trained, "error": None, "cancelled": False}


def training_job(job, *, data: LabelledData, configs: list[TrainConfig], data_dir: Path,
                 settings: Settings | None = None) -> dict:
    """The ``emo-train`` job: :func:`train_many` with the job's progress, step losses and
    cancel; its result is :func:`train_many`'s."""
    def on_loss(r: dict) -> None:
        if "loss" in r:
            job.step(r["step"], r["total"], r["loss"])

    return train_many(data, configs, data_dir, progress=job.progress, cancel=job.cancel,
                      on_loss=on_loss, settings=settings)


def results_table(data_dir: Path) -> pd.DataFrame:
    """One row per saved model: held-out test metrics, cross-validation, training time."""
    rows = []
    for name in list_models(data_dir):
        summary = model_summary(data_dir, name)
        kind, m = summary["settings"].get("kind", "?"), summary["metrics"]
        test, cv = m.get("test", {}), m.get("cv", {})
        rows.append({"model": name, "kind": MODEL_LABELS.get(kind, kind),
                     "accuracy": test.get("accuracy"), "macro F1": test.get("macro_f1"),
                     "macro F1 95% CI": format_interval((test.get("ci95") or {}).get("macro_f1")),
                     "weighted F1": test.get("weighted_f1"),
                     "macro precision": test.get("macro_precision"),
                     "macro recall": test.get("macro_recall"),
                     "CV macro F1": cv.get("macro_f1_mean"), "CV ± std": cv.get("macro_f1_std"),
                     "train s": m.get("seconds"),
                     "saved model trained on": _trained_on(summary["settings"].get("info", {})),
                     "saved": summary["settings"].get("saved_at", "")})
    return pd.DataFrame(rows)


def _trained_on(info: dict) -> str:
    """'all 4,700 rows (refit)' or '3,760 rows (80% split)'; '' for models saved before."""
    train = info.get("train", {})
    if train.get("refit_rows"):
        return f"all {train['refit_rows']:,} rows (refit)"
    return f"{train['rows']:,} rows (training split)" if train.get("rows") else ""


def saved_result(data_dir: Path, name: str) -> dict:
    """A saved model's test metrics (confusion, per class) and its loss history (transformer)."""
    summary = model_summary(data_dir, name)
    history = summary["settings"].get("info", {}).get("history", [])
    return {"test": summary["metrics"].get("test", {}),
            "losses": [r for r in history if "loss" in r]}
