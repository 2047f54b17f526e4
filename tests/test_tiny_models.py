"""The tiny-model factory's committed emoji predictor loads and scores all five labels."""

from __future__ import annotations

from tests.tiny_models import save_tiny_emoji_model


def test_tiny_emoji_model_loads_and_scores_its_five_labels(tmp_path):
    import fasttext

    model = fasttext.load_model(str(save_tiny_emoji_model(tmp_path)))
    labels, probs = model.predict("happy great", k=5)
    assert sorted(labels) == [f"__label__{k}" for k in "12345"]
    assert abs(sum(probs) - 1.0) < 1e-3
