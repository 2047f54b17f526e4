"""``--model hybrid``: TF-IDF and sentence-embedding logistic regressions, probabilities averaged
(``--model transformer_hybrid``: the TF-IDF one and the fine-tuned transformer, the same way).

The two members read different evidence: the TF-IDF model (:mod:`core.emotions.classical`)
surface words, character n-grams, negation scope and emoji; the sentence model
(:mod:`core.emotions.sentence`) what a frozen pretrained encoder makes of the whole tweet.
Their mistakes differ, so the unweighted mean of their probabilities (the "mean rule" of
Kittler et al. 1998, "On Combining Classifiers") beats either. Measured on our three
benchmark sets (``docs/emotions.md``): +0.03 to +0.04 macro-F1 over the better member on each,
and above the fine-tuned encoder on the two sets where that ran. The weights are fixed at
1/2 each, not tuned: stacking a learned combiner over similar members was measured to fit
noise. Each member keeps its own preprocessing and its C / class weighting chosen by CV on
the training rows. Saved as the two member models side by side
(:mod:`core.emotions.models_store`).

Example:
    >>> import numpy as np
    >>> class Fixed:
    ...     def __init__(self, p): self.p = np.array(p)
    ...     def predict_proba(self, texts): return np.tile(self.p, (len(texts), 1))
    >>> AverageHead([Fixed([0.8, 0.2]), Fixed([0.4, 0.6])]).predict_proba(["a tweet"])
    array([[0.6, 0.4]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class AverageHead:
    """texts -> the mean of the members' class probabilities (same labels, same order)."""

    members: list

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.mean([m.predict_proba(list(texts)) for m in self.members], axis=0)
