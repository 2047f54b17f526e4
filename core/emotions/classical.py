"""Classical classifiers on TF-IDF features, as portable "heads" we can save without pickle.

Training uses scikit-learn; the fitted result is converted at once into plain arrays and
predicted with our own numpy code, so a model saved as npz/json predicts exactly as it did in
memory (tests compare against scikit-learn's own ``predict_proba``):
- ``logreg``: LogisticRegression, C and the class weighting (balanced or none) chosen by a
  stratified 3-fold grid search on the training rows only (:data:`LOGREG_GRID`);
  probabilities = softmax(XWᵀ + b) (sigmoid for two classes).
- ``linear_svc``: LinearSVC with C and class weighting searched the same way
  (:data:`SVC_GRID`), then calibrated with scikit-learn's ``CalibratedClassifierCV``
  (``method="temperature"``, ``ensemble=False``): one SVC fitted on every training row, and
  temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks")
  p = softmax(β·margins) with β fitted on 3-fold cross-validated margins. One β for all
  classes keeps the argmax, so calibration changes no prediction (Platt's per-class sigmoids,
  renormalised, cost 0.01-0.03 macro-F1 on our three benchmark sets). Models saved with the
  sigmoid calibration (:class:`CalibratedHead`) still load.
- ``random_forest``: every tree's node arrays (feature, threshold, children, leaf class
  fractions) concatenated; probabilities = mean over trees of the reached leaf's fractions.
- ``stacking``: scikit-learn's ``StackingClassifier`` over the tuned logistic regression, the
  calibrated SVC and a complement naive Bayes (alpha searched): their out-of-fold probabilities
  (3-fold) feed a logistic regression.
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
#: Searched by stratified CV on the training rows (class_weight: "balanced" or None).
LOGREG_GRID = {"C": [0.5, 2.0, 8.0], "class_weight": ["balanced", None]}
SVC_GRID = {"C": [0.03, 0.1, 0.3], "class_weight": ["balanced", None]}
NB_GRID = {"alpha": [0.1, 0.3, 1.0]}
INNER_FOLDS = 3


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """scores = X·Wᵀ + b; ``kind`` 'logistic' (probabilities), 'softmax' (naive Bayes joint
    log-likelihoods) or 'margin' (an uncalibrated SVC)."""

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
class CalibratedHead:
    """scikit-learn's ``CalibratedClassifierCV`` (sigmoid, ensemble) as arrays.

    For each of the M fold models: margins s = X·Wᵀ + b (D columns: K, or 1 for two classes),
    p_d = 1 / (1 + exp(a_d·s_d + b_d)) (Platt's sigmoid, ``expit(-(a·s + b))``); with two
    classes p = [1 - p_1, p_1], otherwise p is divided by its row sum (uniform when that is 0);
    the M results are averaged.
    """

    coef: np.ndarray        # (M, D, F)
    intercept: np.ndarray   # (M, D)
    a: np.ndarray           # (M, D)
    b: np.ndarray           # (M, D)
    n_classes: int

    @classmethod
    def from_sklearn(cls, calibrated, n_classes: int) -> CalibratedHead:
        parts: dict[str, list] = {"coef": [], "intercept": [], "a": [], "b": []}
        for cc in calibrated.calibrated_classifiers_:
            est = cc.estimator
            if len(est.classes_) != n_classes:
                raise ValueError("every class must appear in each calibration fold")
            parts["coef"].append(est.coef_)
            parts["intercept"].append(est.intercept_)
            parts["a"].append([c.a_ for c in cc.calibrators])
            parts["b"].append([c.b_ for c in cc.calibrators])
        return cls(*(np.asarray(parts[k], dtype=np.float64) for k in parts), n_classes)

    def predict_proba(self, X) -> np.ndarray:
        total = np.zeros((X.shape[0], self.n_classes))
        for m in range(self.coef.shape[0]):
            s = np.asarray(X @ self.coef[m].T) + self.intercept[m]
            p = 1.0 / (1.0 + np.exp(self.a[m] * s + self.b[m]))
            if self.n_classes == 2:
                p = np.column_stack([1.0 - p[:, -1], p[:, -1]])
            else:
                den = p.sum(axis=1, keepdims=True)
                p = np.divide(p, den, out=np.full_like(p, 1.0 / self.n_classes), where=den != 0)
            total += p
        return total / self.coef.shape[0]

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}{k}": getattr(self, k) for k in ("coef", "intercept", "a", "b")}

    def meta(self) -> dict:
        return {"type": "calibrated", "n_classes": self.n_classes, "folds": int(self.coef.shape[0])}


@dataclass
class TemperatureHead:
    """scikit-learn's ``CalibratedClassifierCV(method="temperature", ensemble=False)`` as
    arrays: margins s = X·Wᵀ + b (two classes: one column, taken as logits (-s, s)), then
    p = softmax(β·s)."""

    coef: np.ndarray        # (D, F)
    intercept: np.ndarray   # (D,)
    beta: float
    n_classes: int

    @classmethod
    def from_sklearn(cls, calibrated, n_classes: int) -> TemperatureHead:
        (cc,) = calibrated.calibrated_classifiers_
        est = cc.estimator
        if len(est.classes_) != n_classes:
            raise ValueError("every class must appear in the training rows")
        return cls(est.coef_.astype(np.float64), est.intercept_.astype(np.float64),
                   float(cc.calibrators[0].beta_), n_classes)

    def predict_proba(self, X) -> np.ndarray:
        s = np.asarray(X @ self.coef.T) + self.intercept
        if s.shape[1] == 1:
            s = np.hstack([-s, s])
        return softmax(self.beta * s)

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}coef": self.coef, f"{prefix}intercept": self.intercept,
                f"{prefix}beta": np.array([self.beta])}

    def meta(self) -> dict:
        return {"type": "temperature", "n_classes": self.n_classes}


@dataclass
class StackHead:
    """Bases' scores side by side -> ``final``. ``proba_only`` (scikit-learn's
    StackingClassifier): every base gives probabilities, and with two classes only the second
    column of each (the first is 1 minus it)."""

    bases: list
    final: LinearHead
    proba_only: bool = False

    def base_scores(self, X) -> np.ndarray:
        if self.proba_only:
            probs = [b.predict_proba(X) for b in self.bases]
            return np.hstack([p[:, 1:] if p.shape[1] == 2 else p for p in probs])
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
                "final": self.final.meta(), "proba_only": self.proba_only}


Head = LinearHead | ForestHead | StackHead | CalibratedHead | TemperatureHead


def _resample(X, y, oversample: bool, seed: int):
    """(X, y, class_weight): oversampled rows, or the original rows with balanced weights."""
    if not oversample:
        return X, y, "balanced"
    idx = oversample_indices(y, seed)
    return X[idx], y[idx], None


def _inner_cv(y: np.ndarray, seed: int):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)


def _search(estimator, grid: dict, X, y, seed: int, oversample: bool,
            fixed: dict | None = None):
    """GridSearchCV (macro-F1, stratified folds of these training rows) -> (best estimator,
    {chosen params, grid, cv score}). With oversampling the rows are already balanced, so only
    class_weight=None is searched; too small a class for 3 folds uses the grid's first values.
    ``fixed`` (params chosen earlier on the whole training split) skips the search."""
    from sklearn.model_selection import GridSearchCV

    if fixed is not None:
        params = {k: fixed[k] for k in grid}
        return estimator.set_params(**params).fit(X, y), {**params, "searched": False}
    grid = {k: ([None] if k == "class_weight" and oversample else list(v)) for k, v in grid.items()}
    if int(np.bincount(y).min()) < INNER_FOLDS:
        params = {k: v[0] for k, v in grid.items()}
        return estimator.set_params(**params).fit(X, y), {**params, "searched": False}
    search = GridSearchCV(estimator, grid, scoring="f1_macro", cv=_inner_cv(y, seed), n_jobs=1)
    search.fit(X, y)
    return search.best_estimator_, {**search.best_params_, "grid": grid,
                                    "search_macro_f1": round(float(search.best_score_), 4)}


def _logreg_estimator():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=3000)


def _chosen(info: dict, grid: dict) -> dict:
    return {k: info[k] for k in grid}


def fit_logreg(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
               search: bool = True, params: dict | None = None) -> tuple[LinearHead, dict]:
    X, y, weight = _resample(X, y, oversample, seed)
    if search:
        model, info = _search(_logreg_estimator(), LOGREG_GRID, X, y, seed, oversample, params)
        info["params"] = _chosen(info, LOGREG_GRID)
    else:
        model = _logreg_estimator().set_params(C=2.0, class_weight=weight).fit(X, y)
        info = {"C": 2.0, "class_weight": weight}
    return LinearHead("logistic", model.coef_.copy(), model.intercept_.copy(), n_classes), info


class _WeightedCalibrated:
    """CalibratedClassifierCV (temperature, one SVC on every row) over LinearSVC whose ``fit``
    passes balanced sample weights n / (K · n_c) when the search chose class_weight="balanced"
    (also inside StackingClassifier's folds), so the SVC is fitted as if the classes were
    equally frequent, as the search chose."""

    def __new__(cls, C: float, balanced: bool, seed: int):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC
        from sklearn.utils.class_weight import compute_sample_weight

        class Weighted(CalibratedClassifierCV):
            def fit(self, X, y, **kw):
                if balanced:
                    kw["sample_weight"] = compute_sample_weight("balanced", y)
                return super().fit(X, y, **kw)

        return Weighted(LinearSVC(random_state=seed, C=C), method="temperature",
                        cv=_inner_cv(None, seed), ensemble=False)


def _tuned_svc(X, y, seed: int, oversample: bool, params: dict | None = None):
    """(unfitted calibrated SVC with the tuned C and weighting, search info)."""
    from sklearn.svm import LinearSVC

    best, info = _search(LinearSVC(random_state=seed), SVC_GRID, X, y, seed, oversample, params)
    info["params"] = _chosen(info, SVC_GRID)
    calibrated = _WeightedCalibrated(best.C, best.class_weight == "balanced", seed)
    return calibrated, {**info, "calibration": "temperature"}


def fit_svc(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
            params: dict | None = None) -> tuple[TemperatureHead, dict]:
    X, y, _ = _resample(X, y, oversample, seed)
    calibrated, info = _tuned_svc(X, y, seed, oversample, params)
    return TemperatureHead.from_sklearn(calibrated.fit(X, y), n_classes), info


def fit_forest(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
               n_estimators: int = 100) -> ForestHead:
    from sklearn.ensemble import RandomForestClassifier

    X, y, weight = _resample(X, y, oversample, seed)
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=2,
                                   min_samples_leaf=1, class_weight=weight).fit(X, y)
    if len(model.classes_) != n_classes:   # a class absent from this fit: pad its column
        raise ValueError("every class must appear in the forest's training rows")
    return ForestHead.from_sklearn(model)


def fit_stacking(X, y, n_classes: int, seed: int = 0, oversample: bool = False,
                 params: dict | None = None) -> tuple[StackHead, dict]:
    """StackingClassifier: tuned LR + calibrated SVC + complement NB -> logistic regression on
    their out-of-fold probabilities (3 folds); every choice made on these training rows."""
    from sklearn.ensemble import StackingClassifier
    from sklearn.naive_bayes import ComplementNB

    X, y, weight = _resample(X, y, oversample, seed)
    params = params or {}
    lr, lr_info = _search(_logreg_estimator(), LOGREG_GRID, X, y, seed, oversample,
                          params.get("logreg"))
    svc, svc_info = _tuned_svc(X, y, seed, oversample, params.get("linear_svc"))
    nb, nb_info = _search(ComplementNB(), NB_GRID, X, y, seed, oversample,
                          params.get("complement_nb"))
    stack = StackingClassifier(
        [("logreg", lr), ("linear_svc", svc), ("complement_nb", nb)],
        final_estimator=_logreg_estimator().set_params(C=1.0, class_weight=weight),
        cv=_inner_cv(y, seed), stack_method="predict_proba", n_jobs=1).fit(X, y)
    fitted_lr, fitted_svc, fitted_nb = stack.estimators_
    bases = [LinearHead("logistic", fitted_lr.coef_.copy(), fitted_lr.intercept_.copy(),
                        n_classes),
             TemperatureHead.from_sklearn(fitted_svc, n_classes),
             LinearHead("softmax", fitted_nb.feature_log_prob_.copy(),
                        np.zeros(len(fitted_nb.classes_)), n_classes)]
    final = stack.final_estimator_
    head = StackHead(bases, LinearHead("logistic", final.coef_.copy(), final.intercept_.copy(),
                                       n_classes), proba_only=True)
    return head, {"bases": {"logreg": lr_info, "linear_svc": svc_info, "complement_nb": nb_info},
                  "final": "logreg",
                  "params": {"logreg": _chosen(lr_info, LOGREG_GRID),
                             "linear_svc": _chosen(svc_info, SVC_GRID),
                             "complement_nb": _chosen(nb_info, NB_GRID)}}


def fit_head(model: str, X, y, n_classes: int, seed: int = 0, oversample: bool = False,
             params: dict | None = None) -> tuple[Head, dict]:
    """Train one classical head; returns (head, info). ``info["params"]`` holds the
    hyperparameters its search chose; passing them back as ``params`` refits without searching
    (the cross-validation folds do this)."""
    if model == "logreg":
        return fit_logreg(X, y, n_classes, seed, oversample, params=params)
    if model == "linear_svc":
        return fit_svc(X, y, n_classes, seed, oversample, params)
    if model == "random_forest":
        return fit_forest(X, y, n_classes, seed, oversample), {"trees": 100, "params": {}}
    if model == "stacking":
        return fit_stacking(X, y, n_classes, seed, oversample, params)
    raise ValueError(f"unknown classical model {model!r}")


def head_from_arrays(meta: dict, arrays: dict[str, np.ndarray], prefix: str = "") -> Head:
    kind = meta["type"]
    if kind == "linear":
        return LinearHead(meta["kind"], arrays[f"{prefix}coef"], arrays[f"{prefix}intercept"],
                          int(meta["n_classes"]))
    if kind == "forest":
        return ForestHead(*(arrays[f"{prefix}{k}"] for k in
                            ("feature", "threshold", "left", "right", "value", "roots")))
    if kind == "calibrated":
        return CalibratedHead(*(arrays[f"{prefix}{k}"] for k in ("coef", "intercept", "a", "b")),
                              int(meta["n_classes"]))
    if kind == "temperature":
        return TemperatureHead(arrays[f"{prefix}coef"], arrays[f"{prefix}intercept"],
                               float(arrays[f"{prefix}beta"][0]), int(meta["n_classes"]))
    if kind == "stack":
        bases = [head_from_arrays(m, arrays, f"base{i}/") for i, m in enumerate(meta["bases"])]
        return StackHead(bases, head_from_arrays(meta["final"], arrays, "final/"),
                         bool(meta.get("proba_only", False)))
    raise ValueError(f"unknown head type {kind!r}")
