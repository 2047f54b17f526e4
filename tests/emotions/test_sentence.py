"""Frozen sentence embeddings + logistic regression, on a tiny config-built encoder."""

from __future__ import annotations

import numpy as np

from core.emotions.models_store import load_model
from core.emotions.sentence import embed
from core.emotions.training import TrainConfig, train


def test_embeddings_are_unit_vectors_in_batches(tiny_sentence_encoder):
    texts = [f"happy day {i}" for i in range(70)]       # two batches of 64 and 6
    reports = []
    X = embed(tiny_sentence_encoder, texts, lambda f, m: reports.append(m))
    assert X.shape == (70, 32)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    assert reports == ["embedding tweet 1/70", "embedding tweet 65/70"]


def test_sentence_logreg_trains_searches_and_reloads(small_data, tiny_sentence_encoder,
                                                     tmp_path):
    result = train(small_data, TrainConfig(model="sentence_logreg", name="sent"), tmp_path,
                   encoder=tiny_sentence_encoder)
    info = result.model.info
    assert info["dimensions"] == 32 and "C" in info and "class_weight" in info
    assert result.cv["folds"] == 3
    assert result.test["accuracy"] >= 0.6     # separable vocabularies; chance is ~0.44
    assert not result.model.preprocess.lowercase   # encoders get the light cleaning
    folder = tmp_path / "emotion_models" / "sent"
    assert (folder / "encoder" / "model.safetensors").is_file()
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.bin"))
    loaded = load_model("sent", tmp_path)
    texts = small_data.texts[:20]
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts),
                       atol=1e-6)
    scores = loaded.classify(["so happy today"])[0]["scores"]
    assert set(scores) == {"anger", "joy", "sadness"}
    assert abs(sum(scores.values()) - 1) < 1e-3
