"""Answer and retrieval metrics, computed locally; a metric that cannot be computed says why.

* **Exact match / token F1** (SQuAD v1.1, Rajpurkar et al. 2016, official script): both sides
  are normalised (lower-case, punctuation removed, articles a/an/the removed, whitespace
  collapsed); the score is the maximum over the answer and its aliases. Stricter than SQuAD on
  numbers: a decimal point between digits survives ("7.3" stays "7.3", never "73"), a
  thousands separator is dropped ("18,000" -> "18000"), and the number words zero..twenty and
  the tens are written as digits ("eleven" -> "11"). A number answer needs its unit or its
  full form: when the answer is not a bare number, aliases that are bare numbers ("19" for
  "19 weeks") are not counted (:func:`scored_golds`).
  F1 = 2·P·R / (P + R) with P = common / |prediction tokens|, R = common / |gold tokens| and
  ``common`` counted with multiplicity (bag-of-tokens intersection).
* **Answer hit** (``answer_hit``): 1.0 when the normalised answer or any alias appears in the
  normalised prediction as whole tokens; a lenient score for chatty replies that contain the
  right answer ("It is 7.3 km away." has EM 0 but answer_hit 1 for gold "7.3 km"; "It is 73 km
  away." has answer_hit 0).
* **Hit rate@k / reciprocal rank** of the question's source document among the retrieved
  chunks' documents (rank = position of the first chunk from that document, 1-based).
* **Grounding** (is the answer in the retrieved context?), two local proxies, *not* an LLM
  judge: ``grounding_overlap`` = share of the answer's normalised tokens present in the
  context; ``grounding_cosine`` = the highest embedder cosine between answer and a chunk.
* **Relevance** (does the answer address the question?): embedder cosine(question, answer).

Every function returns a :class:`Score` (value in [0, 1] or ``None`` with a reason), never NaN.

Example:
    >>> f1_score("the Blue Harbour", ["blue harbour office"]).value  # P=2/2, R=2/3
    0.8
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
_POINT = "\x00"  # a decimal point while punctuation is removed
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen", "twenty")
_TENS = ("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_UNITS)} | {
    w: str(10 * i) for i, w in enumerate(_TENS, start=3)}


@dataclass(frozen=True)
class Score:
    """A metric value in [0, 1], or ``None`` with the reason it could not be computed."""

    value: float | None
    reason: str = ""

    @classmethod
    def missing(cls, reason: str) -> Score:
        return cls(None, reason)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation, strict on numbers (module doc).

    Example: ``"The  Lantern-Shed!" -> "lanternshed"``; ``"An apple, a day" -> "apple day"``;
    ``"7.3 km, 18,000 rpm." -> "7.3 km 18000 rpm"``; ``"Eleven sites" -> "11 sites"``.
    (Punctuation is deleted, not replaced by a space, as in the official script.)
    """
    text = _DECIMAL.sub(_POINT, _THOUSANDS.sub("", text.lower()))
    text = "".join(ch for ch in text if ch not in _PUNCT).replace(_POINT, ".")
    text = _ARTICLES.sub(" ", text)
    return " ".join(_NUMBER_WORDS.get(w, w) for w in text.split())


def is_bare_number(text: str) -> bool:
    """Whether ``text`` normalises to numbers alone: ``"19"``, ``"7.3"``, ``"eleven"``."""
    words = normalize_answer(text).split()
    return bool(words) and all(_NUMBER.fullmatch(w) for w in words)


def scored_golds(golds: Sequence[str]) -> list[str]:
    """The golds a prediction is scored against: all of them, except that when the answer
    (``golds[0]``) is not a bare number, bare-number aliases are dropped.

    Example: ``["19 weeks", "19"] -> ["19 weeks"]``; ``["1931", "in 1931"]`` keeps both.
    """
    if not golds:
        return []
    if is_bare_number(golds[0]):
        return list(golds)
    return [golds[0], *(g for g in golds[1:] if not is_bare_number(g))]


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def exact_match(prediction: str, golds: Sequence[str]) -> Score:
    """1.0 if the normalised prediction equals any normalised gold, else 0.0."""
    if not golds:
        return Score.missing("no gold answer")
    pred = normalize_answer(prediction)
    return Score(float(any(pred == normalize_answer(g) for g in scored_golds(golds))))


def answer_hit(prediction: str, golds: Sequence[str]) -> Score:
    """1.0 if any normalised gold occurs as a whole-token run in the normalised prediction.

    Example: ``answer_hit("It lies 7.3 km north.", ["7.3 km"])`` -> 1.0 ("7.3 km" is in
    "it lies 7.3 km north"); ``answer_hit("It lies 73 km north", ["7.3 km"])`` -> 0.0; gold
    "km" would not match inside "kmh"; gold "19 weeks" with alias "19" is not hit by "admitted
    in 2023: 19" (:func:`scored_golds`).
    """
    golds = [g for g in (normalize_answer(g) for g in scored_golds(golds)) if g]
    if not golds:
        return Score.missing("no gold answer")
    pred = f" {normalize_answer(prediction)} "
    return Score(float(any(f" {g} " in pred for g in golds)))


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:  # SQuAD: both empty = 1, one empty = 0
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> Score:
    """Maximum token F1 over the golds (see module doc for the formula)."""
    if not golds:
        return Score.missing("no gold answer")
    pred = _tokens(prediction)
    return Score(max(_f1(pred, _tokens(g)) for g in scored_golds(golds)))


def retrieval_rank(retrieved_documents: Sequence[str], source: str) -> int | None:
    """1-based rank of the first retrieved chunk from ``source``; None if absent."""
    for rank, doc in enumerate(retrieved_documents, start=1):
        if doc == source:
            return rank
    return None


def hit_rate_at_k(retrieved_documents: Sequence[str] | None, source: str, k: int) -> Score:
    """1.0 if ``source`` is among the first ``k`` retrieved documents."""
    if retrieved_documents is None:
        return Score.missing("this mode does not retrieve")
    if not source:
        return Score.missing("the question names no source document")
    rank = retrieval_rank(list(retrieved_documents)[:k], source)
    return Score(1.0 if rank is not None else 0.0)


def reciprocal_rank(retrieved_documents: Sequence[str] | None, source: str) -> Score:
    """1 / rank of the source document (0 if not retrieved); MRR is its mean over questions."""
    if retrieved_documents is None:
        return Score.missing("this mode does not retrieve")
    if not source:
        return Score.missing("the question names no source document")
    rank = retrieval_rank(retrieved_documents, source)
    return Score(1.0 / rank if rank else 0.0)


def grounding_overlap(answer: str, contexts: Sequence[str] | None) -> Score:
    """Share of the answer's normalised tokens that occur in the retrieved context.

    Example: answer "Marta Quill, 1998", context "... keeper Marta Quill ..." -> 2/3.
    """
    if contexts is None:
        return Score.missing("this mode does not retrieve")
    tokens = _tokens(answer)
    if not tokens:
        return Score.missing("empty answer")
    if not contexts:
        return Score.missing("nothing was retrieved")
    vocabulary = set(_tokens(" ".join(contexts)))
    return Score(sum(t in vocabulary for t in tokens) / len(tokens))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def cosine_scores(embedder, anchors: Sequence[str], others: Sequence[str]) -> np.ndarray:
    """Cosine similarity matrix (len(anchors) x len(others)) from the embedder, clipped to
    [0, 1] (negative cosine is reported as 0: "unrelated")."""
    vectors = np.asarray(embedder.encode(list(anchors) + list(others)), dtype=np.float64)
    unit = _unit(vectors)
    sims = unit[: len(anchors)] @ unit[len(anchors):].T
    return np.clip(sims, 0.0, 1.0)


def grounding_cosine(embedder, answer: str, contexts: Sequence[str] | None) -> Score:
    """Highest cosine between the answer and any retrieved chunk."""
    if contexts is None:
        return Score.missing("this mode does not retrieve")
    if not answer.strip():
        return Score.missing("empty answer")
    if not contexts:
        return Score.missing("nothing was retrieved")
    if embedder is None:
        return Score.missing("no embedder loaded")
    return Score(float(cosine_scores(embedder, [answer], contexts).max()))


def relevance_cosine(embedder, question: str, answer: str) -> Score:
    """Cosine between question and answer (a topicality proxy, not a correctness judge)."""
    if not answer.strip():
        return Score.missing("empty answer")
    if embedder is None:
        return Score.missing("no embedder loaded")
    return Score(float(cosine_scores(embedder, [question], [answer])[0, 0]))


def mean_score(values: Sequence[float | None], what: str) -> Score:
    """Mean of the computable values; ``None`` with a reason when there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return Score.missing(f"{what}: not computable for any question")
    return Score(float(sum(present) / len(present)))
