"""What preprocessing does to one tweet or a whole dataset, in display-ready form.

- :func:`marked_markdown`: a step's output as Streamlit markdown with added tokens highlighted
  and removed ones struck through; every ASCII punctuation character of user text is
  backslash-escaped (CommonMark) so no link, image, HTML or emoji shortcode from a tweet renders.
- :func:`dataset_step_stats`: per step, tokens and vocabulary size over a dataset and the most
  frequent tokens that step removed.
- :func:`class_counts` / :func:`oversampled_counts`: class distributions before/after.
It does not draw charts (the page does).

Example:
    >>> escape_markdown("[x](http://a) <b>")
    '\\\\[x\\\\]\\\\(http\\\\:\\\\/\\\\/a\\\\) \\\\<b\\\\>'
"""

from __future__ import annotations

import string
from collections import Counter

import numpy as np
import pandas as pd

from core.emotions.datasets import oversample_indices, stratified_split
from core.emotions.preprocess import Preprocessor, Step

_ESCAPES = {ord(c): "\\" + c for c in string.punctuation}


def escape_markdown(text: str) -> str:
    """Backslash-escape every ASCII punctuation character (CommonMark allows all of them)."""
    return text.translate(_ESCAPES).replace("\n", " ")


def marked_markdown(step: Step) -> str:
    """'**+added**' green, '~~removed~~' red; the rest escaped plain text."""
    added = Counter(step.added)
    parts = []
    for tok in step.tokens:
        if added[tok] > 0:
            added[tok] -= 1
            parts.append(f":green-background[{escape_markdown(tok)}]")
        else:
            parts.append(escape_markdown(tok))
    line = " ".join(parts) or "*(nothing left)*"
    if step.removed:
        line += "  ·  removed: " + " ".join(f":red[~~{escape_markdown(t)}~~]"
                                            for t in step.removed)
    if step.note:
        line += f"  ·  *{escape_markdown(step.note)}*"
    return line


def dataset_step_stats(pre: Preprocessor, texts: list[str], top: int = 8) -> pd.DataFrame:
    """One row per step: tokens, vocabulary size, and the most removed tokens."""
    totals: dict[str, Counter] = {}
    removed: dict[str, Counter] = {}
    vocab: dict[str, set] = {}
    order = ["input"]
    totals["input"], vocab["input"], removed["input"] = Counter(), set(), Counter()
    for text in texts:
        trace = pre.trace(text)
        toks = text[: pre.config.max_chars].split()
        totals["input"]["n"] += len(toks)
        vocab["input"].update(toks)
        for s in trace.steps:
            if s.name not in totals:
                order.append(s.name)
                totals[s.name], vocab[s.name], removed[s.name] = Counter(), set(), Counter()
            totals[s.name]["n"] += len(s.tokens)
            vocab[s.name].update(s.tokens)
            removed[s.name].update(s.removed)
    rows = []
    for name in order:
        common = ", ".join(f"{t} ({c})" for t, c in removed[name].most_common(top))
        rows.append({"step": name, "tokens": totals[name]["n"], "vocabulary": len(vocab[name]),
                     "most removed": common})
    return pd.DataFrame(rows)


def class_counts(labels: list[str]) -> pd.DataFrame:
    counts = pd.Series(labels, dtype=str).value_counts()
    return pd.DataFrame({"label": counts.index, "count": counts.values})


def oversampled_counts(labels: list[str], test_size: float = 0.2, seed: int = 0
                       ) -> pd.DataFrame:
    """Training-split class counts before and after random oversampling (test untouched)."""
    train_idx, test_idx = stratified_split(labels, test_size, seed)
    y = np.array([labels[i] for i in train_idx])
    after = y[oversample_indices(y, seed)]
    frames = []
    for split, values in (("train before", y), ("train after oversampling", after),
                          ("test (never oversampled)", [labels[i] for i in test_idx])):
        c = class_counts(list(values))
        frames.append(c.assign(split=split))
    return pd.concat(frames, ignore_index=True)
