"""Classification metrics in one JSON-ready dict (scikit-learn's definitions).

accuracy = correct / n; per class precision = TP/(TP+FP), recall = TP/(TP+FN),
F1 = 2PR/(P+R); "macro" averages classes equally, "weighted" by their support. Classes never
predicted get precision 0 (``zero_division=0``). Confusion matrix rows are true labels,
columns predictions, in ``labels`` order.

Example:
    >>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    >>> m["accuracy"], m["per_class"]["b"]["precision"]   # 3/4; b predicted 3x, 2 right
    (0.75, 0.6667)
"""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true, y_pred, labels: list[str]) -> dict:
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    ids = list(range(len(labels)))
    out: dict = {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
                 "n": len(y_true)}
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=avg,
                                                     zero_division=0)
        out.update({f"{avg}_precision": round(float(p), 4), f"{avg}_recall": round(float(r), 4),
                    f"{avg}_f1": round(float(f), 4)})
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    out["per_class"] = {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                              "f1": round(float(f[i]), 4), "support": int(s[i])}
                        for i, lab in enumerate(labels)}
    out["confusion"] = confusion_matrix(y_true, y_pred, labels=ids).tolist()
    out["labels"] = list(labels)
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over ``n_labels`` classes from one confusion count (numpy: fast enough to
    bootstrap); a class with no true and no predicted row scores 0, as sklearn's
    ``zero_division=0`` does."""
    confusion = np.bincount(y_true * n_labels + y_pred, minlength=n_labels * n_labels)
    confusion = confusion.reshape(n_labels, n_labels)
    tp = np.diag(confusion).astype(float)
    denominator = confusion.sum(0) + confusion.sum(1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


def score_intervals(y_true, y_pred, n_labels: int) -> dict[str, list[float]]:
    """95 % bootstrap intervals over test rows (:func:`core.evaluation.intervals.bootstrap_ci`)
    of accuracy and macro-F1, so two models' scores are read with their uncertainty."""
    from core.evaluation.intervals import bootstrap_ci

    y, p = np.asarray(y_true), np.asarray(y_pred)
    return {"accuracy": bootstrap_ci(lambda idx: float(np.mean(y[idx] == p[idx])), len(y)),
            "macro_f1": bootstrap_ci(lambda idx: macro_f1(y[idx], p[idx], n_labels), len(y))}


def summarise_folds(folds: list[dict]) -> dict:
    """Mean and standard deviation over cross-validation folds of the headline metrics."""
    out: dict = {"folds": len(folds)}
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        vals = np.array([f[key] for f in folds], dtype=float)
        out[f"{key}_mean"] = round(float(vals.mean()), 4) if len(vals) else None
        out[f"{key}_std"] = round(float(vals.std()), 4) if len(vals) else None
    return out
