"""What the Tweet emotions page shows and decides besides its widgets: the preprocessing
toggles and whole-dataset step stats, reading an uploaded CSV and its column guesses, choosing
data, grouping labels, oversampling counts, the training job's outcome, a saved model's detail
tables, and classifying one tweet or a table.

Plain Python and pandas (no Streamlit, no plotting): the page keeps widgets and charts, and
everything it decides is testable here. Training and the saved comparison are
:mod:`core.emotions.benchmark` (its ``emo-train`` job body included).

Example:
    >>> outcome_messages({"trained": ["a"], "error": None, "cancelled": True})
    [('info', 'Training cancelled; saved before that: a')]
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from core import access
from core.emotions import analysis, benchmark, datasets, models_store
from core.emotions.datasets import LabelledData
from core.emotions.preprocess import STEP_ORDER, Preprocessor
from core.errors import UserError
from core.settings import Settings

DEMO = "demo tweets"
EXAMPLE_TWEET = ("@bestie OMG I can't believe it 😭😭 we actually WON!!! #blessed &amp; so "
                 "grateful 🙏 <3 :) https://t.co/xyz")
CLASSIFY_EXAMPLE = "ugh my flight got cancelled AGAIN 😤 @airline"
TOGGLED_STEPS = tuple(s for s in STEP_ORDER if s != "handles")   # "handles" is a selectbox
#: The "Train & compare" tab's note on refitting (its toggle's help).
REFIT_HELP = ("After the held-out test split is scored, each saved model is refit on every row "
              "with the same settings. Test scores come from the model trained without the "
              "test rows.")
#: The "Transformer copies averaged" input's help.
ENSEMBLE_HELP = ("The transformer is fine-tuned this many times with different seeds and their "
                 "probabilities are averaged: steadier and usually a little better, at about "
                 "this many times the training time, prediction time and disk. 1 = one model.")
OVERSAMPLING_TITLE = "Training split before/after oversampling; test split untouched"
CANCEL_NOTE = "Stops at the next step; models already finished stay saved."
#: The "Transformer learns from the TF-IDF model" toggle's help.
DISTILL_HELP = ("Knowledge distillation: while fine-tuning, the transformer also learns from the "
                "class probabilities the TF-IDF logistic regression gives each training tweet "
                "(predicted out of fold), not only from the labels. A few minutes more "
                "training; the saved model is the transformer alone. Off = labels only.")
#: The "Emoji-predictor features" toggle's help.
EMOJI_HELP = ("TF-IDF models also read the 151 emoji probabilities that a frozen fastText emoji "
              "predictor gives each tweet (shown under the preprocessing steps).")
STATS_LIMIT = 3000   # tweets preprocessed for the whole-dataset step stats


def trace_with_emoji(pre: Preprocessor, tweet: str, settings: Settings) -> str:
    """The step-by-step trace as text, then the emoji predictor's (``NLPLAB_EMOJI_MODEL``) top
    5 for the raw tweet (the TF-IDF models' emoji features), or why it is unavailable."""
    from core.emotions.emoji_signal import load_emoji_predictor

    try:
        top = load_emoji_predictor(settings.emoji_model).top(tweet, 5)
        line = "  ".join(f"{e} {p:.2f}" for e, p in top)
    except UserError as err:
        line = f"unavailable: {err}"
    return (analysis.trace_text(pre.trace(tweet))
            + f"\nemoji predictor (features for the TF-IDF models): {line}")


def step_stats(pre: Preprocessor, data: LabelledData) -> pd.DataFrame:
    """Per-step tokens, vocabulary and most removed tokens over the first 3,000 tweets."""
    return analysis.dataset_step_stats(pre, data.texts[:STATS_LIMIT])


@dataclass
class CsvUpload:
    """One uploaded CSV, read as strings, with the guessed text column.

    Example: for columns (tweet_id, sentiment, author, content) ``text_index`` is 3 and
    ``label_index("content")`` is 1 (sentiment is named like a label).
    """

    name: str
    frame: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def text_index(self) -> int:
        return self.columns.index(datasets.guess_text_column(self.frame))

    def label_index(self, text_col: str) -> int:
        return self.columns.index(datasets.guess_label_column(self.frame, text_col))

    def part(self, text_col: str, label_col: str) -> tuple[tuple[str, LabelledData], str | None]:
        """(name, labelled data) for :func:`choose_data`, and a warning if the text column is
        mostly numbers or empty (None otherwise). Raises UserError on unusable columns."""
        warning = datasets.text_warning(self.frame[text_col], text_col)
        data = datasets.labelled(self.frame, text_col, label_col, name=self.name)
        return (self.name, data), warning


def read_upload(raw: bytes, max_mb: int, name: str,
                actor: access.Actor | None = None) -> CsvUpload:
    """An uploaded CSV's bytes read (size, UTF-8 and parse checks raise UserError); ``actor``
    must be allowed ``upload`` (None: the process's actor, see core.access)."""
    access.require(actor, "upload")
    return CsvUpload(name, datasets.read_csv(raw, max_mb, name))


def choose_data(include_demo: bool, uploads: list[tuple[str, LabelledData]]
                ) -> tuple[LabelledData, str]:
    """The demo tweets and/or uploaded sets merged, and a name for them ('demo tweets + a.csv')."""
    chosen = ([(DEMO, datasets.load_demo())] if include_demo else []) + list(uploads)
    if not chosen:
        raise UserError("choose the demo tweets or upload at least one CSV")
    parts = [d for _, d in chosen]
    merged = datasets.merge(parts) if len(parts) > 1 else parts[0]
    return merged, " + ".join(name for name, _ in chosen)


def describe(source: str | None, data: LabelledData) -> str:
    """The Data tab's one-line summary. Example: 'Current data: demo tweets · 120 tweets · 7
    labels'."""
    return (f"Current data: {source} · {len(data.texts)} tweets · "
            f"{len(set(data.labels))} labels")


def group_table(labels: list[str], mapping: dict[str, str]) -> pd.DataFrame:
    """(label, group) rows for the grouping editor; an unmapped label is its own group."""
    return pd.DataFrame({"label": labels, "group": [mapping.get(lab, lab) for lab in labels]})


def group_map(table: pd.DataFrame) -> dict[str, str]:
    """The edited table as {label: group}; a blank group keeps the label."""
    return {r.label: (str(r.group).strip() or r.label) for r in table.itertuples()}


def shipped_groups(labels: list[str]) -> dict[str, str]:
    """The text_emotion.csv grouping (13 labels -> 7) for ``labels``; others map to themselves."""
    shipped = datasets.load_group_map()
    return {lab: shipped.get(lab, lab) for lab in labels}


def oversampling_counts(grouped: LabelledData) -> pd.DataFrame:
    """(label, count, split) rows: the training split before and after random oversampling,
    and the untouched test split, once too-rare classes are dropped as training does."""
    return analysis.oversampled_counts(datasets.drop_rare(grouped).labels)


def loaded_message(data: LabelledData) -> str:
    """'120 tweets; report: {...}' after "Use this data" (the merge report as JSON)."""
    return f"{len(data.texts)} tweets; report: {json.dumps(data.report)}"


def training_caption(classifier_model: str) -> str:
    """What the transformer and the SVC do, under the training form."""
    return (f"Transformer base: `{classifier_model}` (NLPLAB_CLASSIFIER_MODEL), stops early "
            "when validation macro-F1 stops improving, then is refit on every row for the "
            "epochs chosen. Linear SVC: calibrated.")


def outcome_messages(outcome: dict) -> list[tuple[str, str]]:
    """[(Streamlit call, text)] for a finished training job's result (empty while none)."""
    said = [("error", outcome["error"])] if outcome.get("error") else []
    if outcome.get("cancelled"):
        said.append(("info", "Training cancelled; saved before that: "
                             f"{', '.join(outcome['trained']) or 'none'}"))
    return said


def metrics_long(results: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as (model, variable, value) rows for a grouped bar chart."""
    return results.melt(id_vars="model", value_vars=["accuracy", "macro F1", "weighted F1"])


class ModelDetail(NamedTuple):
    """A saved model's confusion matrix (true x predicted, labelled), per-class report (one
    row per class) and training loss (step, loss; None for models without a loss history)."""

    confusion: pd.DataFrame
    per_class: pd.DataFrame
    losses: pd.DataFrame | None


def model_detail(data_dir: Path, name: str) -> ModelDetail:
    """The three tables shown under the comparison for saved model ``name``."""
    detail = benchmark.saved_result(data_dir, name)
    test = detail["test"]
    confusion = pd.DataFrame(test["confusion"], index=test["labels"], columns=test["labels"])
    losses = pd.DataFrame(detail["losses"]) if detail["losses"] else None
    return ModelDetail(confusion, pd.DataFrame(test["per_class"]).T, losses)


def model_stamp(data_dir: Path, name: str) -> float:
    """When a saved model was last written: the cache key that reloads a retrained model."""
    return (models_store.models_root(data_dir) / name / "settings.json").stat().st_mtime


def classify_one(model, name: str, text: str) -> dict[str, Any]:
    """One tweet's prediction with an id for its rating: model, id, text, label, scores, clean."""
    return {"model": name, "id": uuid.uuid4().hex[:8], **model.classify([text])[0],
            "clean": model.preprocessor().text(text)}


def scores_frame(scores: dict[str, float]) -> pd.DataFrame:
    """(emotion, probability) rows, lowest first (a horizontal bar chart's order)."""
    return pd.DataFrame({"emotion": list(scores), "probability": list(scores.values())}
                        ).sort_values("probability")


def classify_table(model, df: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Rows with text in ``column`` plus ``predicted`` and ``p_<label>``; and how many empty
    rows were skipped. Texts are cut to 2,000 characters, as in the single-tweet box."""
    texts = df[column].astype(str).fillna("")
    keep = texts.str.strip().ne("")
    out = model.classify(texts[keep].str.slice(0, 2000).tolist())
    df = df[keep].copy()
    df["predicted"] = [o["label"] for o in out]
    for lab in model.labels:
        df[f"p_{lab}"] = [o["scores"][lab] for o in out]
    return df, int((~keep).sum())


def prediction_rating_fields(pred: dict[str, Any]) -> dict[str, Any]:
    """``rating_widget`` arguments of one :func:`classify_one` prediction."""
    return {"page": "emotions", "mode": "classifier", "prompt": pred["text"],
            "output": pred["label"], "model_id": f"emotion:{pred['model']}",
            "extra": {"scores": pred["scores"], "preprocessed": pred["clean"]}}


def row_rating_fields(df: pd.DataFrame, i: Any, text_col: str | None, name: str,
                      labels: list[str]) -> dict[str, Any]:
    """``record_output`` arguments of one classified row (the prompt is its text, if kept)."""
    return {"page": "emotions", "mode": "classifier", "model_id": f"emotion:{name}",
            "prompt": str(df.at[i, text_col]) if text_col in df.columns else "",
            "output": str(df.at[i, "predicted"]),
            "extra": {"scores": {lab: float(df.at[i, f"p_{lab}"]) for lab in labels}}}
