"""The Emotions page's presenter (core.presenters.emotions): its non-widget steps."""

from __future__ import annotations

import pandas as pd
import pytest

from core.emotions.datasets import labelled
from core.errors import UserError
from core.presenters import emotions as presenter


def test_choose_data_names_and_merges_the_sources():
    up = labelled(pd.DataFrame({"text": ["so happy today", "so sad now"],
                                "label": ["joy", "sadness"]}), name="a.csv")
    data, source = presenter.choose_data(True, [("a.csv", up)])
    assert source == "demo tweets + a.csv" and len(data.texts) > len(up.texts)
    assert presenter.choose_data(False, [("a.csv", up)])[1] == "a.csv"
    with pytest.raises(UserError, match="choose the demo tweets"):
        presenter.choose_data(False, [])


def test_group_table_round_trip_keeps_blank_groups_as_labels():
    table = presenter.group_table(["fun", "joy"], {"fun": "joy"})
    assert list(table["group"]) == ["joy", "joy"]
    table.loc[0, "group"] = "  "
    assert presenter.group_map(table) == {"fun": "fun", "joy": "joy"}


def test_outcome_messages():
    assert presenter.outcome_messages({}) == []
    assert presenter.outcome_messages({"error": "Linear SVC: bad", "cancelled": False,
                                      "trained": []}) == [("error", "Linear SVC: bad")]
    assert presenter.outcome_messages({"cancelled": True, "trained": []})[0][1].endswith("none")


class FakeModel:
    labels = ("joy", "sadness")

    def classify(self, texts):
        return [{"text": t, "label": "joy", "scores": {"joy": 0.75, "sadness": 0.25}}
                for t in texts]


def test_classify_table_skips_empty_rows_and_shapes_rating_fields():
    df = pd.DataFrame({"tweet": ["yay", "  ", "x" * 3000]})
    out, skipped = presenter.classify_table(FakeModel(), df, "tweet")
    assert skipped == 1 and list(out.index) == [0, 2]
    assert list(out.columns) == ["tweet", "predicted", "p_joy", "p_sadness"]
    fields = presenter.row_rating_fields(out, 0, "tweet", "svc", list(FakeModel.labels))
    assert fields == {"page": "emotions", "mode": "classifier", "model_id": "emotion:svc",
                      "prompt": "yay", "output": "joy",
                      "extra": {"scores": {"joy": 0.75, "sadness": 0.25}}}
    gone = presenter.row_rating_fields(out, 0, "gone", "svc", list(FakeModel.labels))
    assert gone["prompt"] == ""
    assert list(presenter.scores_frame({"a": 0.9, "b": 0.1})["emotion"]) == ["b", "a"]


def test_read_upload_guesses_columns_and_warns_on_numbers():
    raw = (b"tweet_id,sentiment,author,content\n"
           b"1,joy,amy,so happy today\n2,sadness,bob,so sad now\n")
    csv = presenter.read_upload(raw, 1, "t.csv")
    assert csv.columns == ["tweet_id", "sentiment", "author", "content"]
    assert csv.text_index == 3 and csv.label_index("content") == 1
    (name, data), warning = csv.part("content", "sentiment")
    assert name == "t.csv" and data.labels == ["joy", "sadness"] and warning is None
    assert "are numbers or empty" in csv.part("tweet_id", "sentiment")[1]
    with pytest.raises(UserError, match="empty"):
        presenter.read_upload(b"  ", 1, "e.csv")


def test_step_stats_cover_at_most_the_limit(monkeypatch):
    seen = []
    monkeypatch.setattr(presenter.analysis, "dataset_step_stats",
                        lambda pre, texts: seen.append(len(texts)) or pd.DataFrame())
    data = labelled(pd.DataFrame({"text": ["so happy"] * 3005, "label": ["joy"] * 3005}))
    presenter.step_stats(None, data)
    assert seen == [presenter.STATS_LIMIT] and "handles" not in presenter.TOGGLED_STEPS


def test_oversampling_counts_balance_the_training_split_only():
    data = labelled(pd.DataFrame({"text": [f"tweet {i}" for i in range(60)],
                                  "label": ["joy"] * 45 + ["sadness"] * 15}))
    counts = presenter.oversampling_counts(data)
    after = counts[counts["split"] == "train after oversampling"]
    assert after["count"].nunique() == 1
    assert set(counts["split"]) == {"train before", "train after oversampling",
                                    "test (never oversampled)"}


def test_model_detail_shapes_the_three_tables(monkeypatch):
    saved = {"test": {"labels": ["joy", "sad"], "confusion": [[3, 1], [0, 2]],
                      "per_class": {"joy": {"precision": 1.0, "recall": 0.75},
                                    "sad": {"precision": 0.67, "recall": 1.0}}},
             "losses": [{"step": 1, "loss": 0.9, "total": 2}, {"step": 2, "loss": 0.5, "total": 2}]}
    monkeypatch.setattr(presenter.benchmark, "saved_result", lambda data_dir, name: saved)
    detail = presenter.model_detail(None, "m")
    assert list(detail.confusion.index) == ["joy", "sad"] == list(detail.confusion.columns)
    assert detail.confusion.loc["joy", "sad"] == 1
    assert list(detail.per_class.index) == ["joy", "sad"]
    assert list(detail.per_class.columns) == ["precision", "recall"]
    assert list(detail.losses["loss"]) == [0.9, 0.5]
    monkeypatch.setattr(presenter.benchmark, "saved_result",
                        lambda data_dir, name: {**saved, "losses": []})
    assert presenter.model_detail(None, "m").losses is None


def test_describe_and_prediction_rating_fields():
    data = labelled(pd.DataFrame({"text": ["so happy", "so sad"], "label": ["joy", "sadness"]}))
    assert presenter.describe("demo tweets", data) == \
        "Current data: demo tweets · 2 tweets · 2 labels"
    pred = {"model": "svc", "id": "ab12", "text": "yay", "label": "joy",
            "scores": {"joy": 0.9}, "clean": "yay"}
    assert presenter.prediction_rating_fields(pred) == {
        "page": "emotions", "mode": "classifier", "prompt": "yay", "output": "joy",
        "model_id": "emotion:svc", "extra": {"scores": {"joy": 0.9}, "preprocessed": "yay"}}
