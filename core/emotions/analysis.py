"""What preprocessing does to one tweet or a whole dataset, in display-ready form.

- :func:`trace_text`: every step's output with what it removed and added, as plain text for
  ``st.code`` (user text never goes through markdown, so no link, HTML or shortcode renders);
  :func:`escape_markdown` for the few places that must put user text into markdown.
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
from core.emotions.preprocess import Preprocessor, Trace

_ESCAPES = {ord(c): "\\" + c for c in string.punctuation}


def escape_markdown(text: str) -> str:
    """Backslash-escape every ASCII punctuation character (CommonMark allows all of them)."""
    return text.translate(_ESCAPES).replace("\n", " ")


def trace_text(trace: Trace) -> str:
    """The whole trace as plain text (shown with ``st.code``: no link or markup renders).

    Example (handles step of "@amy <3 yay"):
        2. handles: emoheart yay
           removed: @amy
    """
    lines = [f"input: {' '.join(trace.original.split())}"]
    for n, step in enumerate(trace.steps, 1):
        lines.append(f"{n}. {step.name}: {step.text or '(nothing left)'}")
        changes = [f"{what}: {' '.join(toks)}" for what, toks in
                   (("removed", step.removed), ("added", step.added)) if toks]
        if step.note:
            changes.append(step.note)
        if changes:
            lines.append("   " + " · ".join(changes))
    lines.append(f"{len(trace.tokens)} tokens out: {', '.join(trace.tokens)}"
                 if trace.tokens else "no tokens left")
    return "\n".join(lines)


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
