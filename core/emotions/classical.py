"""Classical classifiers on TF-IDF features, as portable "heads" we can save without pickle.

Training uses scikit-learn; the fitted result is converted at once into plain arrays and
predicted with our own numpy code, so a model saved as npz/json predicts exactly as it did in
memory (tests compare against scikit-learn's own ``predict_proba``):
- ``logreg``: LogisticRegression, C chosen by a small 3-fold grid search over :data:`LOGREG_C`;
  probabilities = softmax(XWᵀ + b) (sigmoid for two classes).
- ``linear_svc``: LinearSVC; its margins are not probabilities, the "scores" shown are
  softmax(margins), a confidence ranking only (documented in the UI).
- ``random_forest``: every tree's node arrays (feature, threshold, children, leaf class
  fractions) concatenated; probabilities = mean over trees of the reached leaf's fractions.
- ``stacking``: out-of-fold scores of the three bases (3-fold) feed a logistic regression.
Labels are integers 0..K-1 here; names live with the model. Class imbalance: random oversampling
of each fit's own training rows when asked (:func:`core.emotions.datasets.oversample_indices`),
otherwise class weights ``n / (K · n_c)`` (scikit-learn's ``class_weight="balanced"``, the
transformer's default too). Without either, every head learns the class prior and a tweet with
mixed evidence goes to the biggest class (an angry tweet called "joy" when joy tweets dominate);
the stacking meta-learner gets the same treatment, or it re-learns the prior its bases dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from core.emotions.datasets import oversample_indices

CLASSICAL = ("logreg", "random_forest", "linear_svc", "stacking")
LOGREG_C = (0.5, 2.0, 8.0)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """scores = X·Wᵀ + b; ``kind`` 'logistic' (probabilities) or 'margin' (SVC)."""

    kind: str
    coef: np.ndarray
    intercept: np.ndarray
    n_classes: int

    def decision(self, X) -> np.ndarray:
        s = np.asarray(X @ self.coef.T) + self.intercept
        return np.hstack([-s, s]) if self.n_classes == 2 and s.shape[1] == 1 else s

    def predict_proba(self, X) -> np.ndarray:
        s = self.decision(X)
        if self.kind == "logistic" and self.n_classes == 2:
            p = 1.0 / (1.0 + np.exp(-s[:, 1]))   # binary LR: sigmoid of the one margin
            return np.column_stack([1 - p, p])
        return softmax(s)

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}coef": self.coef, f"{prefix}intercept": self.intercept}

    def meta(self) -> dict:
        return {"type": "linear", "kind": self.kind, "n_classes": self.n_classes}


@dataclass
class ForestHead:
    """All trees' nodes in flat arrays; ``roots[i]`` is tree i's first node."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray

    @classmethod
    def from_sklearn(cls, forest) -> ForestHead:
        parts: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right",
                                                  "value")}
        roots, offset = [], 0
        for est in forest.estimators_:
            t = est.tree_
            roots.append(offset)
            parts["feature"].append(t.feature.astype(np.int32))
            parts["threshold"].append(t.threshold.astype(np.float64))
            for side, arr in (("left", t.children_left), ("right", t.children_right)):
                parts[side].append(np.where(arr == -1, -1, arr + offset).astype(np.int64))
            v = t.value[:, 0, :].astype(np.float64)
            parts["value"].append(v / np.maximum(v.sum(axis=1, keepdims=True), 1e-12))
            offset += t.node_count
        return cls(*(np.concatenate(parts[k]) for k in parts), np.array(roots, dtype=np.int64))

    def predict_proba(self, X, chunk: int = 512) -> np.ndarray:
        X = sparse.csr_matrix(X)
        out = []
        for start in range(0, X.shape[0], chunk):
            dense = X[start:start + chunk].toarray().astype(np.float32)
            n = dense.shape[0]
            node = np.repeat(self.roots[:, None], n, axis=1)       # (trees, rows)
            rows = np.broadcast_to(np.arange(n), node.shape)
            while True:
                left = self.left[node]
                inner = left != -1
                if not inner.any():
                    break
                go_left = dense[rows, np.maximum(self.feature[node], 0)] <= self.threshold[node]
                node = np.where(inner, np.where(go_left, left, self.right[node]), node)
            out.append(self.value[node].mean(axis=0))
        return np.vstack(out) if out else np.zeros((0, self.value.shape[1]))

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}{k}": getattr(self, k) for k in
                ("feature", "threshold", "left", "right", "value", "roots")}

    def meta(self) -> dict:
        return {"type": "forest", "trees": len(self.roots)}


@dataclass
class StackHead:
    bases: list[LinearHead | ForestHead]
    final: LinearHead

    def base_scores(self, X) -> np.ndarray:
        return np.hstack([b.predict_proba(X) if isinstance(b, ForestHead) or b.kind == "logistic"
                          else b.decision(X) for b in self.bases])

    def predict_proba(self, X) -> np.ndarray:
        return self.final.predict_proba(self.base_scores(X))

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        out = self.final.arrays("final/")
        for i, b in enumerate(self.bases):
            out.update(b.arrays(f"base{i}/"))
        return out

    def meta(self) -> dict:
        return {"type": "stack", "bases": [b.meta() for b in self.bases],
                "final": self.final.meta()}


Head = LinearHead | ForestHead | StackHead


def _resample(X, y, oversample: bool, seed: int):
    """(X, y, class_weight): oversampled rows, or the original rows with balanced weights."""
    if not oversample:
        return X, y, "balanced"
    idx = oversample_indices(y, seed)
    return X[idx], y[idx], None


def fit_logreg(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
               search: bool = True) -> tuple[LinearHead, dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    X, y, weight = _resample(X, y, oversample, seed)
    base = LogisticRegression(max_iter=2000, class_weight=weight)
    min_class = int(np.bincount(y).min())
    if search and min_class >= 3:
        grid = GridSearchCV(base, {"C": list(LOGREG_C)}, scoring="f1_macro",
                            cv=StratifiedKFold(3, shuffle=True, random_state=seed))
        model = grid.fit(X, y).best_estimator_
        info = {"C": float(model.C), "grid": list(LOGREG_C)}
    else:
        model = base.set_params(C=2.0).fit(X, y)
        info = {"C": 2.0}
    return LinearHead("logistic", model.coef_.copy(), model.intercept_.copy(), n_classes), info


def fit_svc(X, y, n_classes: int, seed: int = 0, oversample: bool = False) -> LinearHead:
    from sklearn.svm import LinearSVC

    X, y, weight = _resample(X, y, oversample, seed)
    model = LinearSVC(C=0.5, random_state=seed, class_weight=weight).fit(X, y)
    return LinearHead("margin", model.coef_.copy(), model.intercept_.copy(), n_classes)


def fit_forest(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
               n_estimators: int = 100) -> ForestHead:
    from sklearn.ensemble import RandomForestClassifier

    X, y, weight = _resample(X, y, oversample, seed)
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=2,
                                   min_samples_leaf=1, class_weight=weight).fit(X, y)
    if len(model.classes_) != n_classes:   # a class absent from this fit: pad its column
        raise ValueError("every class must appear in the forest's training rows")
    return ForestHead.from_sklearn(model)


def fit_stacking(X, y, n_classes: int, seed: int = 0, oversample: bool = False) -> StackHead:
    """Out-of-fold base scores (3 folds, bases refit per fold) -> logistic regression."""
    from sklearn.model_selection import StratifiedKFold

    def bases(Xa, ya):
        return [fit_logreg(Xa, ya, n_classes, seed, oversample, search=False)[0],
                fit_forest(Xa, ya, n_classes, seed, oversample, n_estimators=50),
                fit_svc(Xa, ya, n_classes, seed, oversample)]

    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    oof = np.zeros((X.shape[0], 3 * n_classes))
    for tr, va in folds.split(np.zeros(len(y)), y):
        oof[va] = StackHead(bases(X[tr], y[tr]), None).base_scores(X[va])  # type: ignore[arg-type]
    final, _ = fit_logreg(oof, y, n_classes, seed, oversample, search=False)
    return StackHead(bases(X, y), final)


def fit_head(model: str, X, y, n_classes: int, seed: int = 0,
             oversample: bool = False) -> tuple[Head, dict]:
    """Train one classical head; returns (head, info such as the chosen C)."""
    if model == "logreg":
        return fit_logreg(X, y, n_classes, seed, oversample)
    if model == "linear_svc":
        return fit_svc(X, y, n_classes, seed, oversample), {"C": 0.5}
    if model == "random_forest":
        return fit_forest(X, y, n_classes, seed, oversample), {"trees": 100}
    if model == "stacking":
        return fit_stacking(X, y, n_classes, seed, oversample), {
            "bases": ["logreg", "random_forest", "linear_svc"], "final": "logreg"}
    raise ValueError(f"unknown classical model {model!r}")


def head_from_arrays(meta: dict, arrays: dict[str, np.ndarray], prefix: str = "") -> Head:
    kind = meta["type"]
    if kind == "linear":
        return LinearHead(meta["kind"], arrays[f"{prefix}coef"], arrays[f"{prefix}intercept"],
                          int(meta["n_classes"]))
    if kind == "forest":
        return ForestHead(*(arrays[f"{prefix}{k}"] for k in
                            ("feature", "threshold", "left", "right", "value", "roots")))
    if kind == "stack":
        bases = [head_from_arrays(m, arrays, f"base{i}/") for i, m in enumerate(meta["bases"])]
        return StackHead(bases, head_from_arrays(meta["final"], arrays, "final/"))
    raise ValueError(f"unknown head type {kind!r}")
