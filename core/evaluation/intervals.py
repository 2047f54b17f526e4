"""Intervals and paired verdicts: the one place every comparison of modes or models gets them.

* :func:`mean_ci`: a 95 % interval for a mean score over questions. A 0/1 score (answer hit,
  EM, multiple choice) gets the Wilson score interval (Wilson 1927, JASA 22:209), which stays
  inside [0, 1] and is not degenerate at 0 or n hits; a graded score (token F1) gets the
  percentile bootstrap.
* :func:`paired_bootstrap`: a 95 % percentile interval of mean(after - before), resampling
  questions with their pair (Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
  ch. 13; numpy, seeded), so two modes are compared on the same questions.
* :func:`compare`: ``{"a", "b", "metric", "n", "a_mean", "b_mean", "delta", "ci95",
  "verdict"}`` with the verdict in plain words: "rag beats finetuned by 0.21 [0.08, 0.33]" when
  the interval of ``a - b`` lies above 0, "finetuned beats rag by ..." when below, else "no
  detectable difference (+0.04 [-0.05, 0.12])".

Example:
    >>> compare([1, 1, 1, 1, 1, 1, 1, 1, 0, 1], [0] * 10, "rag", "base", "answer_hit")["verdict"]
    'rag beats base by 0.90 [0.70, 1.00]'
    >>> mean_ci([0, 0, 0, 0])
    [0.0, 0.4899]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.errors import UserError

BOOTSTRAP_ROUNDS = 10_000
Z95 = 1.959964


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (module doc); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(values: Sequence[float | None], *, rounds: int = BOOTSTRAP_ROUNDS,
            seed: int = 0) -> list[float] | None:
    """95 % interval ``[lo, hi]`` for the mean of the computable ``values``; None if none are.

    Example: ``mean_ci([1, 0, 1, 1])`` -> Wilson ``[0.3006, 0.9544]``.
    """
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return None
    if _is_binary(data):
        low, high = wilson(int(data.sum()), int(data.size))
    else:
        rng = np.random.default_rng(seed)
        means = data[rng.integers(0, data.size, size=(rounds, data.size))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def paired_bootstrap(before: Sequence[float], after: Sequence[float], *,
                     rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of mean(after - before) over paired questions (module doc).

    Example: identical lists -> (0.0, 0.0); after right on 30 of 40 questions where before
    was always wrong -> about (0.62, 0.88), entirely above 0.
    """
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if diff.size == 0:
        raise UserError("no questions to compare")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(rounds, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_ci(statistic, n: int, *, rounds: int = 1_000, seed: int = 0) -> list[float]:
    """95 % percentile interval of ``statistic(rows)`` over ``rounds`` resamples of the row
    indices ``0..n-1`` (for scores that are not a mean over rows, e.g. macro-F1).

    Example: ``bootstrap_ci(lambda idx: float(np.mean(x[idx])), len(x))``.
    """
    if n == 0:
        raise UserError("no rows to resample")
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, size=n)) for _ in range(rounds)]
    low, high = np.percentile(values, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def format_interval(ci: Sequence[float] | None) -> str:
    """An interval for a table cell; '' where none was kept (older runs and models).

    Example: ``format_interval([0.612, 0.7])`` -> ``'[0.61, 0.70]'``; ``format_interval(None)``
    -> ``''``.
    """
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def verdict_words(a: str, b: str, delta: float, low: float, high: float) -> str:
    """The plain-words verdict of ``a - b`` with its interval (module doc)."""
    if low > 0:
        return f"{a} beats {b} by {delta:.2f} [{low:.2f}, {high:.2f}]"
    if high < 0:
        return f"{b} beats {a} by {-delta:.2f} [{-high:.2f}, {-low:.2f}]"
    return f"no detectable difference ({delta:+z.2f} [{low:+z.2f}, {high:+z.2f}])"


def compare(a_values: Sequence[float | None], b_values: Sequence[float | None], a: str, b: str,
            metric: str, *, seed: int = 0) -> dict | None:
    """Paired comparison of ``a`` and ``b`` on the questions both scored; None if there are
    none. ``delta`` = mean(a) - mean(b) over those questions."""
    pairs = [(x, y) for x, y in zip(a_values, b_values, strict=True)
             if x is not None and y is not None]
    if not pairs:
        return None
    xs, ys = (np.asarray(v, dtype=float) for v in zip(*pairs, strict=True))
    low, high = paired_bootstrap(ys, xs, seed=seed)
    delta = float(xs.mean() - ys.mean())
    return {"a": a, "b": b, "metric": metric, "n": len(pairs),
            "a_mean": round(float(xs.mean()), 4), "b_mean": round(float(ys.mean()), 4),
            "delta": round(delta, 4), "ci95": [round(low, 4), round(high, 4)],
            "verdict": verdict_words(a, b, delta, low, high)}
