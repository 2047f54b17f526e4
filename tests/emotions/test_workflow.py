"""The Emotions page's non-widget steps (core.emotions.workflow)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.emotions import workflow
from core.emotions.datasets import labelled
from core.errors import UserError


def test_choose_data_names_and_merges_the_sources():
    up = labelled(pd.DataFrame({"text": ["so happy today", "so sad now"],
                                "label": ["joy", "sadness"]}), name="a.csv")
    data, source = workflow.choose_data(True, [("a.csv", up)])
    assert source == "demo tweets + a.csv" and len(data.texts) > len(up.texts)
    assert workflow.choose_data(False, [("a.csv", up)])[1] == "a.csv"
    with pytest.raises(UserError, match="choose the demo tweets"):
        workflow.choose_data(False, [])


def test_group_table_round_trip_keeps_blank_groups_as_labels():
    table = workflow.group_table(["fun", "joy"], {"fun": "joy"})
    assert list(table["group"]) == ["joy", "joy"]
    table.loc[0, "group"] = "  "
    assert workflow.group_map(table) == {"fun": "fun", "joy": "joy"}


def test_outcome_messages():
    assert workflow.outcome_messages({}) == []
    assert workflow.outcome_messages({"error": "Linear SVC: bad", "cancelled": False,
                                      "trained": []}) == [("error", "Linear SVC: bad")]
    assert workflow.outcome_messages({"cancelled": True, "trained": []})[0][1].endswith("none")


class FakeModel:
    labels = ("joy", "sadness")

    def classify(self, texts):
        return [{"text": t, "label": "joy", "scores": {"joy": 0.75, "sadness": 0.25}}
                for t in texts]


def test_classify_table_skips_empty_rows_and_shapes_rating_fields():
    df = pd.DataFrame({"tweet": ["yay", "  ", "x" * 3000]})
    out, skipped = workflow.classify_table(FakeModel(), df, "tweet")
    assert skipped == 1 and list(out.index) == [0, 2]
    assert list(out.columns) == ["tweet", "predicted", "p_joy", "p_sadness"]
    fields = workflow.row_rating_fields(out, 0, "tweet", "svc", list(FakeModel.labels))
    assert fields == {"page": "emotions", "mode": "classifier", "model_id": "emotion:svc",
                      "prompt": "yay", "output": "joy",
                      "extra": {"scores": {"joy": 0.75, "sadness": 0.25}}}
    assert workflow.row_rating_fields(out, 0, "gone", "svc", list(FakeModel.labels))["prompt"] == ""
    assert list(workflow.scores_frame({"a": 0.9, "b": 0.1})["emotion"]) == ["b", "a"]
