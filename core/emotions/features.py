"""TF-IDF features over our own tokens, with state we can save as JSON + npz.

Our own small vectoriser (not sklearn's) so a saved model reloads from a term list and an idf
array without pickling. Formulas follow sklearn's ``TfidfVectorizer(smooth_idf=True,
sublinear_tf=True, norm="l2")``:
``idf(t) = ln((1 + n) / (1 + df(t))) + 1``, ``tf = 1 + ln(count)``, rows scaled to unit L2 norm.
Terms are unigrams and bigrams of the preprocessed tokens; rare terms (``df < min_df``) are
dropped and at most ``max_features`` most frequent terms kept. It does not preprocess text.

Example:
    >>> f = TfidfFeatures(ngram_max=1).fit([["happy", "day"], ["sad", "day"]])
    >>> f.vocabulary
    ['day', 'happy', 'sad']
    >>> round(float(f.idf[0]), 4), round(float(f.idf[1]), 4)   # ln(3/3)+1, ln(3/2)+1
    (1.0, 1.4055)
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import sparse


def ngrams(tokens: list[str], n_max: int) -> list[str]:
    """['not', 'happy'] with n_max=2 -> ['not', 'happy', 'not happy']"""
    out = list(tokens)
    for n in range(2, n_max + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


class TfidfFeatures:
    def __init__(self, ngram_max: int = 2, min_df: int = 1, max_features: int = 20_000):
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_features = max_features
        self.vocabulary: list[str] = []
        self.index: dict[str, int] = {}
        self.idf = np.zeros(0)

    def fit(self, docs: list[list[str]]) -> TfidfFeatures:
        df: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for tokens in docs:
            terms = ngrams(tokens, self.ngram_max)
            df.update(set(terms))
            total.update(terms)
        kept = [t for t, d in df.items() if d >= self.min_df]
        kept.sort(key=lambda t: (-total[t], t))
        self.vocabulary = sorted(kept[: self.max_features])
        self.index = {t: i for i, t in enumerate(self.vocabulary)}
        n = len(docs)
        dfs = np.array([df[t] for t in self.vocabulary], dtype=np.float64)
        self.idf = np.log((1.0 + n) / (1.0 + dfs)) + 1.0
        return self

    def transform(self, docs: list[list[str]]) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for r, tokens in enumerate(docs):
            counts = Counter(self.index[t] for t in ngrams(tokens, self.ngram_max)
                             if t in self.index)
            for c, k in counts.items():
                rows.append(r)
                cols.append(c)
                vals.append(1.0 + np.log(k))
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(self.vocabulary)),
                              dtype=np.float64)
        m = m @ sparse.diags(self.idf) if len(self.vocabulary) else m
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ m)

    def fit_transform(self, docs: list[list[str]]) -> sparse.csr_matrix:
        return self.fit(docs).transform(docs)

    def to_json(self) -> dict:
        return {"ngram_max": self.ngram_max, "min_df": self.min_df,
                "max_features": self.max_features, "vocabulary": self.vocabulary}

    @classmethod
    def from_saved(cls, data: dict, idf: np.ndarray) -> TfidfFeatures:
        f = cls(int(data["ngram_max"]), int(data["min_df"]), int(data["max_features"]))
        f.vocabulary = [str(t) for t in data["vocabulary"]]
        f.index = {t: i for i, t in enumerate(f.vocabulary)}
        f.idf = np.asarray(idf, dtype=np.float64)
        return f
