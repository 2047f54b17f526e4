"""Soft targets for the fine-tuned transformer from the TF-IDF logistic regression.

Knowledge distillation (Hinton et al., 2015): the student is trained on a teacher's class
probabilities as well as on the hard labels, ``(1 - a) · CE(label) + a · KL(teacher || student)``
(:func:`core.emotions.transformer.fine_tune`). A soft target says which wrong classes are
plausible for a tweet, which one hard label per tweet cannot. The teacher here is the
project's TF-IDF logistic regression with the emoji-predictor features (its C and class
weighting chosen by the usual CV search): on a few thousand tweets it is about as accurate as
the fine-tuned encoder, and it errs on other tweets (n-grams and emoji against contextual
meaning), which is what makes its probabilities worth learning from. Given sentence embeddings
(``--teacher hybrid``) it is the ``hybrid`` model's pair instead: that regression and one on
frozen sentence embeddings, averaged; a stronger teacher, not a steadily better one for the
student (``docs/emotions.md``), so not the default.

Each row's probabilities come out of fold (``FOLDS`` stratified folds over the student's
training rows, like stacking's ``cross_val_predict``): a teacher scoring rows it was fitted
on returns near one-hot probabilities that repeat the labels. The vocabulary and IDF are fitted
on those rows' texts (no labels involved). Rows the caller does not pass (the student's
validation split) never reach the teacher, so early stopping still scores unseen rows. Only
the student is kept: prediction costs nothing extra.

Example::

    teacher = TfidfTeacher(tokens, emoji_block, y, n_classes=4)
    soft = teacher(train_rows)      # (len(train_rows), 4), rows sum to 1, or None (too few)
    teacher.params                  # {"C": 2.0, "class_weight": "balanced"}
"""

from __future__ import annotations

import time

import numpy as np

#: Out-of-fold folds for the teacher's probabilities.
FOLDS = 5


class TfidfTeacher:
    """rows -> the TF-IDF (+ emoji) logistic regression's out-of-fold class probabilities.

    ``tokens`` and ``emoji`` (the (n, 151) block, or None) cover every row of the training
    file; ``params`` (C and class weighting) skips the search, as the refit does. With
    ``sentence`` ((n, d) frozen sentence embeddings of the same rows) the teacher is the
    ``hybrid`` model's pair instead: a second logistic regression on the embeddings, its own
    search (or ``sentence_params``), the two out-of-fold probabilities averaged 1/2 each.
    """

    def __init__(self, tokens: list[list[str]], emoji: np.ndarray | None, y: np.ndarray,
                 n_classes: int, seed: int = 0, min_df: int = 1, params: dict | None = None,
                 sentence: np.ndarray | None = None, sentence_params: dict | None = None):
        self.tokens, self.emoji, self.y = tokens, emoji, np.asarray(y)
        self.n_classes, self.seed, self.min_df, self.params = n_classes, seed, min_df, params
        self.sentence, self.sentence_params = sentence, sentence_params
        self.report: dict = {}
        self._cache: dict[bytes, np.ndarray | None] = {}

    def __call__(self, rows: np.ndarray) -> np.ndarray | None:
        """(len(rows), n_classes) probabilities (a repeated row, as oversampling makes, gets
        its one prediction), or None when a class has fewer than 2 rows to fold."""
        unique, inverse = np.unique(np.asarray(rows, dtype=int), return_inverse=True)
        key = unique.tobytes()
        if key not in self._cache:
            self._cache[key] = self._out_of_fold(unique)
        soft = self._cache[key]
        return None if soft is None else soft[inverse]

    def _out_of_fold(self, rows: np.ndarray) -> np.ndarray | None:
        from core.emotions.emoji_signal import append_block
        from core.emotions.features import build_features

        t0 = time.perf_counter()
        y = self.y[rows]
        present, counts = np.unique(y, return_counts=True)
        folds = min(FOLDS, int(counts.min()))
        if folds < 2 or len(present) < 2:
            self.report = {"used": False, "reason": "a class has fewer than 2 training rows"}
            return None
        texts = [self.tokens[i] for i in rows]
        X = append_block(build_features("logreg", self.min_df).fit(texts).transform(texts),
                         None if self.emoji is None else self.emoji[rows])
        soft, self.params = self._fold_probabilities(X, y, present, folds, self.params)
        name = "logreg (TF-IDF" + (" + emoji features)" if self.emoji is not None else ")")
        members = {}
        if self.sentence is not None:
            sent, self.sentence_params = self._fold_probabilities(
                self.sentence[rows], y, present, folds, self.sentence_params)
            members = {"members_oof_macro_f1": {
                "tfidf": _macro_f1(y, soft), "sentence": _macro_f1(y, sent)},
                "sentence_params": self.sentence_params}
            soft = (soft + sent) / 2
            name += " and logreg (sentence embeddings), averaged"
        self.report = {
            "used": True, "teacher": name, "params": self.params, **members, "folds": folds,
            "rows": len(rows), "teacher_oof_macro_f1": _macro_f1(y, soft),
            "seconds": round(time.perf_counter() - t0, 2)}
        return soft

    def _fold_probabilities(self, X, y, present, folds, params):
        """((rows, n_classes) out-of-fold probabilities, the C and weighting used)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        from core.emotions.classical import fit_logreg

        if params is None:
            _, info = fit_logreg(X, y, self.n_classes, self.seed)
            params = info["params"]
        proba = cross_val_predict(
            LogisticRegression(max_iter=3000, **params), X, y, method="predict_proba",
            cv=StratifiedKFold(folds, shuffle=True, random_state=self.seed))
        soft = np.zeros((len(y), self.n_classes))
        soft[:, present] = proba
        return soft, params


def _macro_f1(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(y, proba.argmax(1), average="macro")), 4)
