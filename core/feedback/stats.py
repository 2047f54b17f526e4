"""What the ratings say: counts, thumbs-up rates with Wilson intervals, reward over time, win rates.

Pure functions over the records the store returns (no database, no plotting), so the dashboard,
the CLI and tests share one computation. It leaves significance tests between modes out: the
intervals are shown side by side and the reader judges the overlap.

Example:
    >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
    (0.49, 0.943)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable

import pandas as pd

from core.feedback.schema import OutputRecord, PreferenceRecord

#: Two-sided 95 % normal quantile used by the Wilson interval.
Z_95 = 1.96


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927, JASA 22(158):209-212).

    centre = (p + z²/2n) / (1 + z²/n);  half = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)
    with p = successes/n. Unlike the normal (Wald) interval it stays inside [0, 1] and is
    sensible for small n and p near 0 or 1. n = 0 gives the uninformative (0, 1).

    Worked example: 8 up out of 10, z = 1.96: p = 0.8, z²/n = 0.38416, denominator 1.38416,
    centre = (0.8 + 0.19208)/1.38416 = 0.71674, half = 1.96·sqrt(0.016 + 0.009604)/1.38416
    = 0.31362/1.38416 = 0.22658, so (0.4902, 0.9433).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At p = 0 or 1 the bound is exactly 0 or 1 (centre == half); avoid 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def model_label(r: OutputRecord) -> str:
    """``model`` or ``model + adapter``: how the dashboard names what produced an output."""
    model = r.model_id or "unknown model"
    return f"{model} + {r.adapter_id}" if r.adapter_id else model


def up_rates(records: Iterable[OutputRecord],
             key: Callable[[OutputRecord], str] = lambda r: r.mode) -> list[dict]:
    """Per group: rated count, ups, downs, up-rate and its 95 % Wilson interval.

    Example: modes rag (up, up, down) and base (down) ->
    [{"group": "base", "n": 1, "up": 0, ...}, {"group": "rag", "n": 3, "up": 2, ...}]
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.rating is not None:
            counts[key(r)][0 if r.rating == "up" else 1] += 1
    rows = []
    for group in sorted(counts):
        up, down = counts[group]
        n = up + down
        low, high = wilson_interval(up, n)
        rows.append({"group": group, "n": n, "up": up, "down": down, "up_rate": up / n,
                     "wilson_low": low, "wilson_high": high})
    return rows


def summary(records: list[OutputRecord], prefs: list[PreferenceRecord]) -> dict:
    """Counts and per-mode up-rates (what ``feedback stats`` prints)."""
    rated = [r for r in records if r.rating is not None]
    return {"outputs": len(records), "rated": len(rated),
            "up": sum(r.rating == "up" for r in rated),
            "down": sum(r.rating == "down" for r in rated),
            "preferences": len(prefs),
            "modes": [{"mode": row.pop("group"), **row} for row in up_rates(rated)]}


def reward_over_time(records: Iterable[OutputRecord], by: str = "mode",
                     freq: str | None = None) -> pd.DataFrame:
    """Reward per group over time and its running (cumulative) mean.

    ``by`` is ``mode`` or ``model`` (model + adapter). ``freq=None`` keeps one point per rating
    (a live demo rates within minutes, where hourly buckets would collapse to one dot); a pandas
    frequency such as ``"h"`` or ``"D"`` averages per bucket. Columns: time, group, ratings,
    mean_reward, cumulative_mean. Rewards are +1 (up) / -1 (down); unrated outputs are skipped.

    Example: rag up, up, down -> cumulative means 1, 1, 1/3.
    """
    if by not in ("mode", "model"):
        raise ValueError(f"by must be 'mode' or 'model', got {by!r}")
    rows = [{"time": r.updated_at, "id": r.id,
             "group": r.mode if by == "mode" else model_label(r),
             "reward": r.reward} for r in records if r.reward is not None]
    cols = ["time", "group", "ratings", "mean_reward", "cumulative_mean"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows).sort_values(["time", "id"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    if freq is None:
        out = df.assign(ratings=1, total=df["reward"])
    else:
        df["time"] = df["time"].dt.floor(freq)
        out = (df.groupby(["group", "time"], sort=True)["reward"]
               .agg(ratings="count", total="sum").reset_index())
    out = out.sort_values(["group", "time"], kind="stable").reset_index(drop=True)
    out["mean_reward"] = out["total"] / out["ratings"]
    grouped = out.groupby("group")
    out["cumulative_mean"] = grouped["total"].cumsum() / grouped["ratings"].cumsum()
    return out[cols]


def win_rates(prefs: Iterable[PreferenceRecord], outputs_by_id: dict[int, OutputRecord],
              key: Callable[[OutputRecord], str] = lambda r: r.mode) -> list[dict]:
    """Pairwise results per group: wins, losses, ties, and win rate = (wins + ties/2) / games.

    Example: one preference "a" between rag (A) and base (B) ->
    base: 0 wins, 1 loss, rate 0.0; rag: 1 win, 0 losses, rate 1.0.
    Comparisons between two outputs of the same group are skipped (they say nothing about it).
    """
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in prefs:
        a, b = outputs_by_id.get(p.output_a_id), outputs_by_id.get(p.output_b_id)
        if a is None or b is None or key(a) == key(b):
            continue
        ga, gb = key(a), key(b)
        if p.choice == "tie":
            tally[ga][2] += 1
            tally[gb][2] += 1
        else:
            winner, loser = (ga, gb) if p.choice == "a" else (gb, ga)
            tally[winner][0] += 1
            tally[loser][1] += 1
    rows = []
    for group in sorted(tally):
        wins, losses, ties = tally[group]
        games = wins + losses + ties
        low, high = wilson_interval(wins, wins + losses) if wins + losses else (0.0, 1.0)
        rows.append({"group": group, "games": games, "wins": wins, "losses": losses,
                     "ties": ties, "win_rate": (wins + ties / 2) / games,
                     "wilson_low": low, "wilson_high": high})
    return rows


def records_frame(records: Iterable[OutputRecord]) -> pd.DataFrame:
    """One row per output for tables (times as UTC timestamps, ``model`` = model + adapter)."""
    cols = ["id", "created_at", "updated_at", "session_id", "page", "mode", "model",
            "prompt", "output", "rating", "reward", "comment", "latency_seconds"]
    rows = [{"id": r.id, "created_at": r.created_at, "updated_at": r.updated_at,
             "session_id": r.session_id, "page": r.page, "mode": r.mode, "model": model_label(r),
             "prompt": r.prompt, "output": r.output, "rating": r.rating or "unrated",
             "reward": r.reward, "comment": r.comment or "", "latency_seconds": r.latency_seconds}
            for r in records]
    return pd.DataFrame(rows, columns=cols)


def filter_records(df: pd.DataFrame, *, modes: list[str] | None = None,
                   rating: str = "all", pages: list[str] | None = None,
                   search: str = "") -> pd.DataFrame:
    """Rows matching every filter; ``search`` is a case-insensitive PLAIN substring (no regex)
    looked up in prompt, output and comment. ``rating`` is all|up|down|unrated.

    Example: search "a+b" matches the text "what is a+b?" (a regex would not).
    """
    mask = pd.Series(True, index=df.index)
    if modes:
        mask &= df["mode"].isin(modes)
    if pages:
        mask &= df["page"].isin(pages)
    if rating != "all":
        mask &= df["rating"] == rating
    needle = search.strip().lower()
    if needle:
        hay = (df["prompt"] + "\n" + df["output"] + "\n" + df["comment"]).str.lower()
        mask &= hay.str.contains(needle, regex=False)
    return df[mask]
