"""Labelled tweet datasets: CSV reading, validation, merging, grouping, splits, oversampling.

Everything returns plain pandas/numpy plus a report of what was dropped or changed, so the page
and CLI can say it ("3 empty tweets dropped"). Bad input raises :class:`UserError` with one
actionable line. Random oversampling is applied to training rows only: callers pass the
training split's labels (never the test split's). It does not preprocess or train.

Example:
    >>> oversample_indices(np.array([0, 0, 0, 1]), seed=0).tolist()   # class 1 drawn twice more
    [0, 1, 2, 3, 3, 3]
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import UserError
from core.settings import ASSETS_DIR

DEMO_TWEETS = ASSETS_DIR / "tweets" / "demo_tweets.csv"
GROUP_MAP_FILE = ASSETS_DIR / "emotions" / "text_emotion_groups.json"
MAX_TWEET_CHARS = 2000
MIN_PER_CLASS = 10
NUMBER_RE = r"^[\d\s.,:/%$€£+\-eE]*\d[\d\s.,:/%$€£+\-eE]*$"   # ids, dates, amounts
WARN_SHARE = 0.5     # warn when more than half the "texts" are numbers or empty
REFUSE_SHARE = 0.9   # refuse training when 90% or more are


@dataclass
class LabelledData:
    """Validated texts and string labels, with a report of what cleaning did."""

    texts: list[str]
    labels: list[str]
    report: dict[str, int | list[str]] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"text": self.texts, "label": self.labels})


def read_csv(source: str | Path | bytes | io.IOBase, max_mb: int = 50,
             name: str = "CSV") -> pd.DataFrame:
    """Read a UTF-8 CSV (path, bytes or file object) into strings; clear errors otherwise."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise UserError(f"{name}: file not found: {path}")
        data = path.read_bytes() if path.stat().st_size <= max_mb * 2**20 else None
    else:
        data = source if isinstance(source, bytes) else source.read()
    if data is None or len(data) > max_mb * 2**20:
        raise UserError(f"{name} is larger than the {max_mb} MB limit (NLPLAB_MAX_UPLOAD_MB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name} is not valid UTF-8 (byte {exc.start}): re-save it as UTF-8 "
                        "(e.g. 'Save as CSV UTF-8')") from None
    if not text.strip():
        raise UserError(f"{name} is empty: it needs a header row and at least one tweet")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{name} could not be parsed as CSV: {str(exc).splitlines()[0]}") from None
    if df.empty:
        raise UserError(f"{name} has a header but no rows")
    return df


def not_text_share(values) -> float:
    """Share of values that are empty or look like numbers (ids, dates, amounts).

    Example: ["1956967341", "", "so happy :)", "12.5"] -> 3/4 = 0.75
    """
    series = pd.Series(list(values), dtype=str).str.strip()
    if series.empty:
        return 1.0
    return float((series.eq("") | series.str.match(NUMBER_RE)).mean())


def guess_text_column(df: pd.DataFrame) -> str:
    """The column whose values look most like free text, whatever its position.

    Ranked by: share of values that are real text (not numbers, not empty), then median length,
    then share of distinct values. On text_emotion.csv (tweet_id, sentiment, author, content)
    this is ``content``: tweet_id is all numbers, sentiment and author are short.
    """
    def score(col) -> tuple[float, float, float]:
        values = df[col].astype(str).head(2000)
        return (round(1.0 - not_text_share(values), 1), float(values.str.len().median()),
                values.nunique() / max(len(values), 1))

    return str(max(df.columns, key=score))


def guess_label_column(df: pd.DataFrame, text_col: str) -> str:
    """A column named like a label, else the non-numeric column with fewest distinct values."""
    others = [str(c) for c in df.columns if str(c) != text_col] or [text_col]
    for col in others:
        if col.strip().lower() in ("label", "labels", "emotion", "sentiment", "class"):
            return col
    return min(others, key=lambda c: (not_text_share(df[c].astype(str).head(2000)) > 0.5,
                                      df[c].nunique() < 2, df[c].nunique()))


def text_warning(values, column: str) -> str | None:
    """One line when most of a chosen text column is numbers or empty, else None."""
    share = not_text_share(values)
    if share <= WARN_SHARE:
        return None
    return (f"{share:.0%} of the values in column {column!r} are numbers or empty, not tweets: "
            "pick the column that holds the tweets' text")


def check_texts(data: LabelledData) -> None:
    """Refuse to train on "texts" that are almost all numbers (a wrong text column)."""
    share = not_text_share(data.texts)
    if share >= REFUSE_SHARE:
        raise UserError(f"{share:.0%} of the tweets are numbers or empty: the text column is "
                        "probably an id column; choose the column with the tweets' text")


def labelled(df: pd.DataFrame, text_col: str = "text", label_col: str = "label",
             max_chars: int = MAX_TWEET_CHARS, name: str = "CSV") -> LabelledData:
    """Pick the columns, drop empty texts/labels, truncate very long tweets; report counts."""
    cols = [str(c) for c in df.columns]
    for col, role in ((text_col, "text"), (label_col, "label")):
        if col not in cols:
            raise UserError(f"{name} has no {role} column {col!r}; columns are: "
                            f"{', '.join(cols[:20])} (use --{role}-col)")
    texts = df[text_col].astype(str).str.strip()
    labels = df[label_col].astype(str).str.strip()
    empty_text = texts.eq("") | texts.str.lower().eq("nan")
    empty_label = labels.eq("") & ~empty_text
    keep = ~(empty_text | labels.eq(""))
    long_mask = texts.str.len() > max_chars
    texts = texts.where(~long_mask, texts.str.slice(0, max_chars))
    report: dict[str, int | list[str]] = {
        "rows": len(df), "empty_texts_dropped": int(empty_text.sum()),
        "empty_labels_dropped": int(empty_label.sum()), "truncated": int((long_mask & keep).sum())}
    if not keep.any():
        raise UserError(f"{name}: every row has an empty text or label")
    return LabelledData(texts[keep].tolist(), labels[keep].tolist(), report)


def merge(datasets: list[LabelledData], label_maps: list[dict[str, str]] | None = None
          ) -> LabelledData:
    """Concatenate, rename labels per dataset, drop duplicate texts (first wins); report."""
    label_maps = label_maps or [{} for _ in datasets]
    texts, labels = [], []
    for data, mapping in zip(datasets, label_maps, strict=True):
        texts.extend(data.texts)
        labels.extend(mapping.get(lab, lab) for lab in data.labels)
    frame = pd.DataFrame({"text": texts, "label": labels})
    key = frame["text"].str.lower().str.split().str.join(" ")
    dup = key.duplicated()
    conflicts = int(frame.assign(k=key).groupby("k")["label"].nunique().gt(1).sum())
    kept = frame[~dup]
    return LabelledData(kept["text"].tolist(), kept["label"].tolist(),
                        {"rows": len(frame), "duplicates_dropped": int(dup.sum()),
                         "conflicting_labels": conflicts})


def load_group_map(source: str | Path | dict = GROUP_MAP_FILE) -> dict[str, str]:
    """A {label: group} mapping from a JSON file (or dict); values must be non-empty text."""
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"group map not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"group map {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()):
        raise UserError("a group map must be a JSON object of label -> group name (text)")
    return {k.strip(): v.strip() for k, v in data.items()}


def apply_groups(data: LabelledData, mapping: dict[str, str]) -> LabelledData:
    """Relabel with ``mapping``; labels it does not mention stay as they are (reported)."""
    unmapped = sorted({lab for lab in data.labels if lab not in mapping})
    labels = [mapping.get(lab, lab) for lab in data.labels]
    return LabelledData(list(data.texts), labels,
                        {**data.report, "grouped_from": len(set(data.labels)),
                         "grouped_to": len(set(labels)), "unmapped_labels": unmapped})


def drop_rare(data: LabelledData, min_count: int = MIN_PER_CLASS) -> LabelledData:
    """Drop classes too small to split and cross-validate; refuse fewer than two classes."""
    counts = pd.Series(data.labels).value_counts()
    rare = sorted(counts[counts < min_count].index.tolist())
    keep = [lab not in rare for lab in data.labels]
    texts = [t for t, k in zip(data.texts, keep, strict=True) if k]
    labels = [lab for lab, k in zip(data.labels, keep, strict=True) if k]
    if len(set(labels)) < 2:
        found = ", ".join(f"{k} ({v})" for k, v in counts.items())
        raise UserError(f"need at least two emotions with {min_count}+ tweets each; found: "
                        f"{found or 'none'}")
    return LabelledData(texts, labels, {**data.report, "rare_classes_dropped": rare})


def oversample_indices(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Row indices with minority classes re-drawn at random up to the majority count.

    Pass TRAINING labels only. Original rows come first, in order, then the extra draws.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    extra = [rng.choice(np.flatnonzero(y == c), size=counts.max() - n, replace=True)
             for c, n in zip(classes, counts, strict=True) if n < counts.max()]
    return np.concatenate([np.arange(len(y)), *extra]).astype(np.int64)


def stratified_split(labels: list[str], test_size: float = 0.2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx), every class represented in both."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_size, random_state=seed,
                                   stratify=labels)
    return np.sort(train), np.sort(test)


def load_demo() -> LabelledData:
    """The project's own demo tweets (``assets/tweets/demo_tweets.csv``)."""
    if not DEMO_TWEETS.is_file():
        raise UserError(f"demo tweets not found at {DEMO_TWEETS}")
    return labelled(read_csv(DEMO_TWEETS, name="demo tweets"), name="demo tweets")


def load_text_emotion(path: Path) -> LabelledData:
    """``text_emotion.csv`` (columns sentiment, content) as LabelledData."""
    return labelled(read_csv(path, max_mb=100, name=path.name), "content", "sentiment",
                    name=path.name)


def load_tweets_clean(path: Path) -> LabelledData:
    """``tweets_clean.txt``: ``ID:<TAB>text<TAB>:: label`` lines (stray ': ' normalised)."""
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            texts.append(parts[1].strip())
            labels.append(parts[-1].replace(":", " ").strip())
    return labelled(pd.DataFrame({"text": texts, "label": labels}), name=path.name)
