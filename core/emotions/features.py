"""TF-IDF features over our own tokens, with state we can save as JSON + npz.

Our own small vectoriser (not sklearn's) so a saved model reloads from a term list and an idf
array without pickling. Formulas follow sklearn's ``TfidfVectorizer(smooth_idf=True,
sublinear_tf=True, norm="l2")``:
``idf(t) = ln((1 + n) / (1 + df(t))) + 1``, ``tf = 1 + ln(count)``, rows scaled to unit L2 norm.
Terms are word n-grams of the preprocessed tokens (``analyzer="word"``: unigrams and bigrams)
or character n-grams inside word boundaries (``analyzer="char_wb"``, sklearn's: each token padded
with one space, ``' sad '`` -> ``' s', 'sa', 'ad', 'd '`` for n=2), which catch misspellings,
elongations and word pieces that a tweet's vocabulary never repeats exactly. Rare terms
(``df < min_df``) are dropped and at most ``max_features`` most frequent terms kept.
:class:`UnionFeatures` puts several side by side (each block L2-normalised on its own, like
sklearn's ``FeatureUnion`` of two vectorisers). It does not preprocess text.

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

ANALYZERS = ("word", "char_wb")


def ngrams(tokens: list[str], n_max: int) -> list[str]:
    """['not', 'happy'] with n_max=2 -> ['not', 'happy', 'not happy']"""
    out = list(tokens)
    for n in range(2, n_max + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


def char_wb_ngrams(tokens: list[str], n_min: int, n_max: int) -> list[str]:
    """['sad'] with n 2-3 -> [' s', 'sa', 'ad', 'd ', ' sa', 'sad', 'ad '] (sklearn's char_wb:
    a padded word shorter than n gives itself once)."""
    out = []
    for tok in tokens:
        w = f" {tok} "
        for n in range(n_min, n_max + 1):
            if len(w) <= n:
                out.append(w)
                break
            out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


class TfidfFeatures:
    def __init__(self, ngram_max: int = 2, min_df: int = 1, max_features: int = 20_000,
                 analyzer: str = "word", ngram_min: int = 1):
        if analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {ANALYZERS}, got {analyzer!r}")
        self.ngram_max = ngram_max
        self.ngram_min = ngram_min
        self.analyzer = analyzer
        self.min_df = min_df
        self.max_features = max_features
        self.vocabulary: list[str] = []
        self.index: dict[str, int] = {}
        self.idf = np.zeros(0)

    def terms(self, tokens: list[str]) -> list[str]:
        if self.analyzer == "char_wb":
            return char_wb_ngrams(tokens, self.ngram_min, self.ngram_max)
        return ngrams(tokens, self.ngram_max)

    def fit(self, docs: list[list[str]]) -> TfidfFeatures:
        df: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for tokens in docs:
            terms = self.terms(tokens)
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
            counts = Counter(self.index[t] for t in self.terms(tokens) if t in self.index)
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
                "max_features": self.max_features, "vocabulary": self.vocabulary,
                "analyzer": self.analyzer, "ngram_min": self.ngram_min}

    @classmethod
    def from_saved(cls, data: dict, idf: np.ndarray) -> TfidfFeatures:
        f = cls(int(data["ngram_max"]), int(data["min_df"]), int(data["max_features"]),
                data.get("analyzer", "word"), int(data.get("ngram_min", 1)))
        f.vocabulary = [str(t) for t in data["vocabulary"]]
        f.index = {t: i for i, t in enumerate(f.vocabulary)}
        f.idf = np.asarray(idf, dtype=np.float64)
        return f


class UnionFeatures:
    """Blocks side by side (``hstack``), each TF-IDF block L2-normalised on its own.

    Saved as ``{"parts": [block json, ...]}`` with the blocks' idf arrays concatenated.
    Example: word 1-2-grams (20,000 terms) + char_wb 2-5-grams -> one sparse row per tweet.
    """

    def __init__(self, parts: list[TfidfFeatures]):
        self.parts = parts

    @property
    def vocabulary(self) -> list[str]:
        return [t for p in self.parts for t in p.vocabulary]

    @property
    def idf(self) -> np.ndarray:
        return np.concatenate([p.idf for p in self.parts])

    def fit(self, docs: list[list[str]]) -> UnionFeatures:
        for p in self.parts:
            p.fit(docs)
        return self

    def transform(self, docs: list[list[str]]) -> sparse.csr_matrix:
        return sparse.hstack([p.transform(docs) for p in self.parts], format="csr")

    def fit_transform(self, docs: list[list[str]]) -> sparse.csr_matrix:
        return self.fit(docs).transform(docs)

    def to_json(self) -> dict:
        return {"parts": [p.to_json() for p in self.parts]}

    @classmethod
    def from_saved(cls, data: dict, idf: np.ndarray) -> UnionFeatures:
        parts, start = [], 0
        for part in data["parts"]:
            n = len(part["vocabulary"])
            parts.append(TfidfFeatures.from_saved(part, idf[start:start + n]))
            start += n
        return cls(parts)


#: Word 1-2-grams plus char_wb 2-5-grams: the classical models' default features.
CHAR_MAX_FEATURES = 60_000


def build_features(model: str, min_df: int = 1) -> TfidfFeatures | UnionFeatures:
    """The features a classical model trains on. The random forest keeps word n-grams only:
    its trees are predicted on dense rows, and 60,000 more columns would make that slow."""
    words = TfidfFeatures(min_df=min_df)
    if model == "random_forest":
        return words
    return UnionFeatures([words, TfidfFeatures(ngram_max=5, ngram_min=2, analyzer="char_wb",
                                               min_df=max(min_df, 2),
                                               max_features=CHAR_MAX_FEATURES)])


def features_from_saved(data: dict, idf: np.ndarray) -> TfidfFeatures | UnionFeatures:
    if "parts" in data:
        return UnionFeatures.from_saved(data, idf)
    return TfidfFeatures.from_saved(data, idf)
