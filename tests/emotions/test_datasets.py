"""CSV validation, merging with de-duplication, grouping, rare classes, oversampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.emotions import datasets as ds
from core.emotions.datasets import LabelledData
from core.errors import UserError


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"),
    (b"text,label\n", "no rows"),
    (b"text,label\n\xff\xfe caf\xe9,joy\n", "not valid UTF-8"),
    (b"tweet,emotion\nhi,joy\n", "no text column 'text'"),
])
def test_bad_csv_clear_errors(content, message):
    with pytest.raises(UserError, match=message):
        ds.labelled(ds.read_csv(content))


def test_upload_size_limit():
    with pytest.raises(UserError, match="larger than the 1 MB limit"):
        ds.read_csv(b"text,label\n" + b"a,joy\n" * 300_000, max_mb=1)


def test_empty_tweets_dropped_and_long_ones_truncated():
    df = pd.DataFrame({"text": ["happy", "  ", "x" * 100_000, "sad"],
                       "label": ["joy", "joy", "joy", ""]})
    data = ds.labelled(df)
    assert data.texts == ["happy", "x" * ds.MAX_TWEET_CHARS]
    assert data.report == {"rows": 4, "empty_texts_dropped": 1, "empty_labels_dropped": 1,
                           "truncated": 1}


def test_merge_maps_labels_and_counts_duplicates():
    a = LabelledData(["I am happy", "so sad", "ugh"], ["happiness", "sadness", "hate"])
    b = LabelledData(["i am  HAPPY", "new one", "so sad"], ["joy", "joy", "anger"])
    merged = ds.merge([a, b], [{"happiness": "joy", "hate": "anger"}, {}])
    # "i am  HAPPY" duplicates "I am happy" (case/space-insensitive); "so sad" repeats too.
    assert merged.report == {"rows": 6, "duplicates_dropped": 2, "conflicting_labels": 1}
    assert merged.labels == ["joy", "sadness", "anger", "joy"]


def test_grouping_counts_and_unmapped():
    data = LabelledData(["a", "b", "c", "d"], ["fun", "happiness", "worry", "odd"])
    grouped = ds.apply_groups(data, ds.load_group_map())
    assert grouped.labels == ["joy", "joy", "fear", "odd"]
    assert grouped.report["grouped_from"] == 4 and grouped.report["grouped_to"] == 3
    assert grouped.report["unmapped_labels"] == ["odd"]


def test_shipped_group_map_covers_the_13_text_emotion_labels():
    labels = ["neutral", "worry", "happiness", "sadness", "love", "surprise", "fun", "relief",
              "hate", "empty", "enthusiasm", "boredom", "anger"]
    mapping = ds.load_group_map()
    assert sorted(mapping) == sorted(labels)
    assert len(set(mapping.values())) == 7


@pytest.mark.parametrize("bad", ['["joy"]', '{"a": 3}', "{not json"])
def test_bad_group_map(tmp_path, bad):
    path = tmp_path / "map.json"
    path.write_text(bad)
    with pytest.raises(UserError):
        ds.load_group_map(path)


def test_one_class_only_is_refused():
    with pytest.raises(UserError, match="at least two emotions"):
        ds.drop_rare(LabelledData(["x"] * 20, ["joy"] * 20))


def test_rare_classes_dropped_and_reported():
    data = LabelledData(["x"] * 25, ["joy"] * 12 + ["sadness"] * 11 + ["anger"] * 2)
    kept = ds.drop_rare(data, 10)
    assert kept.report["rare_classes_dropped"] == ["anger"] and len(kept.texts) == 23


def test_oversample_known_answer():
    """[0,0,0,1]: class 1 needs 3-1 = 2 extra draws, all of index 3."""
    assert ds.oversample_indices(np.array([0, 0, 0, 1])).tolist() == [0, 1, 2, 3, 3, 3]
    idx = ds.oversample_indices(np.array([2, 0, 0, 0, 0, 1, 1]), seed=3)
    assert np.bincount(np.array([2, 0, 0, 0, 0, 1, 1])[idx]).tolist() == [4, 4, 4]


def test_oversampling_touches_only_the_training_split(small_data, tmp_path, monkeypatch):
    """train() must oversample the rows it fits on, never the held-out test rows before they
    are scored; only the refit after scoring (the saved model) sees all 90 rows."""
    from core.emotions import classical, training

    seen: list[int] = []
    real = classical.oversample_indices

    def spy(y, seed=0):
        seen.append(len(y))
        return real(y, seed)

    monkeypatch.setattr(classical, "oversample_indices", spy)
    result = training.train(small_data, training.TrainConfig(
        model="linear_svc", name="os", oversample=True), tmp_path)
    n_test = result.report["test_rows"]
    assert n_test == 18 and result.test["n"] == n_test   # 20% of 90, scored as-is
    assert result.report["train_rows"] == 72
    # the searched fit first, then CV folds (2/3 of it), then the refit on every row
    assert seen == [72, 48, 48, 48, 90]
    no_refit: list[int] = []
    monkeypatch.setattr(classical, "oversample_indices",
                        lambda y, seed=0: (no_refit.append(len(y)), real(y, seed))[1])
    training.train(small_data, training.TrainConfig(model="linear_svc", name="os2",
                                                    oversample=True, refit=False), tmp_path)
    assert no_refit == [72, 48, 48, 48]
