"""Arena-style ranking: Bradley-Terry ratings on the Elo scale from pairwise preferences.

Bradley & Terry (1952): P(i beats j) = p_i / (p_i + p_j). The strengths are fitted by maximum
likelihood with the MM algorithm of Hunter (2004, "MM algorithms for generalized Bradley-Terry
models", Ann. Statist. 32(1):384-406, eq. 3):

    p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j)

where W_i is i's wins (a tie counts half a win for each side, as in Chatbot Arena) and n_ij
the games between i and j; after each sweep the p are rescaled to geometric mean 1. Ratings
are shown on the Elo scale as in Chatbot Arena (Chiang et al. 2024): rating = 400·log10(p_i)
+ c with c chosen so the ratings average :data:`ANCHOR` (1000); a 400-point gap means 10:1
odds. ``prior`` adds that many virtual tied games between every pair (a weak pull towards
equal strength) so a group that won or lost every game keeps a finite rating; 0 gives the
plain maximum-likelihood fit. 95 % intervals are percentiles of :data:`BOOTSTRAP_ROUNDS`
refits on games resampled with replacement (seeded), as in Chatbot Arena's notebook.

Comparisons come from the preferences table (A better / B better / tie) and, optionally, from
thumbs on the same prompt (an answer rated up beats one rated down). Two outputs of the same
group say nothing about it and are skipped. Plotting and storage are left out.

Worked example (the test's): A-B 6 games (A 4, B 2), A-C 5 games (A 4, C 1), B-C 3 games
(B 1, C 0, 2 ties: 2 and 1 half-wins). Strengths (4, 2, 1) satisfy every pair's likelihood
equation exactly, so ratings are 1000 + 400·log10(4, 2, 1) - 120.41 = (1120.41, 1000, 879.59).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from core.feedback.schema import OutputRecord, PreferenceRecord

ANCHOR = 1000.0
SCALE = 400.0
BOOTSTRAP_ROUNDS = 1000
#: (winner-side name, other name, score of the first: 1 win, 0.5 tie, 0 loss)
Game = tuple[str, str, float]


def fit_strengths(games: Sequence[Game], names: Sequence[str], *, prior: float = 0.0,
                  max_iter: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry strengths (geometric mean 1) for ``names`` by Hunter's MM updates."""
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    wins = np.zeros((k, k))  # wins[i, j]: i's (half-)wins against j
    for a, b, score in games:
        i, j = index[a], index[b]
        wins[i, j] += score
        wins[j, i] += 1.0 - score
    if prior:
        wins += (prior / 2) * (1 - np.eye(k))
    games_ij = wins + wins.T
    total_wins = wins.sum(axis=1)
    p = np.ones(k)
    for _ in range(max_iter):
        denom = (games_ij / (p[:, None] + p[None, :])).sum(axis=1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1), p)
        new = np.clip(new, 1e-300, None)
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(np.log(new) - np.log(p))) < tol:
            return new
        p = new
    return p


def elo(strengths: np.ndarray, anchor: float = ANCHOR) -> np.ndarray:
    """400·log10(p) shifted so the ratings average ``anchor``."""
    r = SCALE * np.log10(strengths)
    return r - r.mean() + anchor


def ratings(games: Sequence[Game], *, prior: float = 1.0, rounds: int = BOOTSTRAP_ROUNDS,
            seed: int = 0) -> list[dict]:
    """``[{"name", "rating", "ci95", "n"}]`` best first; ``n`` = games the name played."""
    games = list(games)
    names = sorted({g[0] for g in games} | {g[1] for g in games})
    if not names:
        return []
    point = elo(fit_strengths(games, names, prior=prior))
    rng = np.random.default_rng(seed)
    boots = np.empty((rounds, len(names)))
    for r in range(rounds):
        sample = [games[i] for i in rng.integers(0, len(games), len(games))]
        boots[r] = elo(fit_strengths(sample, names, prior=prior, tol=1e-8))
    low, high = np.percentile(boots, [2.5, 97.5], axis=0) if rounds else (point, point)
    played = defaultdict(int)
    for a, b, _ in games:
        played[a] += 1
        played[b] += 1
    rows = [{"name": n, "rating": round(float(point[i]), 2),
             "ci95": [round(float(low[i]), 2), round(float(high[i]), 2)], "n": played[n]}
            for i, n in enumerate(names)]
    return sorted(rows, key=lambda row: -row["rating"])


def games_from_feedback(records: Iterable[OutputRecord], prefs: Iterable[PreferenceRecord],
                        key: Callable[[OutputRecord], str] = lambda r: r.mode, *,
                        thumbs: bool = True) -> list[Game]:
    """Games between groups (``key``: mode, or model + adapter) from preferences and thumbs.

    A preference "a" is a win for A's group, "b" for B's, "tie" half each. With ``thumbs``,
    every (up, down) pair of answers to the same prompt is a win for the up answer's group.
    Example: rag 👍 and base 👎 on one prompt -> [("rag", "base", 1.0)].
    """
    records = list(records)
    by_id = {r.id: r for r in records}
    games: list[Game] = []
    for p in prefs:
        a, b = by_id.get(p.output_a_id), by_id.get(p.output_b_id)
        if a is None or b is None or key(a) == key(b):
            continue
        games.append((key(a), key(b), {"a": 1.0, "b": 0.0}.get(p.choice, 0.5)))
    if thumbs:
        by_prompt: dict[str, list[OutputRecord]] = defaultdict(list)
        for r in records:
            if r.rating is not None:
                by_prompt[r.prompt].append(r)
        for rows in by_prompt.values():
            for up in (r for r in rows if r.rating == "up"):
                for down in (r for r in rows if r.rating == "down"):
                    if key(up) != key(down):
                        games.append((key(up), key(down), 1.0))
    return games
