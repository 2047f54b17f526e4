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


def test_hybrid_is_the_mean_of_its_two_members_and_reloads(small_data, tiny_sentence_encoder,
                                                           tmp_path):
    """The hybrid's probabilities are exactly the mean of a TF-IDF logistic regression (on
    the classical tokens) and a sentence-embedding one (on lightly cleaned text); both keep
    the C / weighting their own search chose, the refit keeps them, and the saved model (two
    member folders, no pickle) predicts the same."""
    result = train(small_data, TrainConfig(model="hybrid", name="hyb"), tmp_path,
                   encoder=tiny_sentence_encoder)
    model = result.model
    words, sentence = model.head.members
    assert (words.kind, sentence.kind) == ("logreg", "sentence_logreg")
    assert words.preprocess.lowercase and not sentence.preprocess.lowercase
    assert set(model.info["params"]) == {"logreg", "sentence_logreg"}
    assert all("C" in p for p in model.info["params"].values())
    texts = small_data.texts[:15]
    mean = (words.predict_proba(texts) + sentence.predict_proba(texts)) / 2
    assert np.allclose(model.predict_proba(texts), mean)
    assert not np.allclose(words.predict_proba(texts), sentence.predict_proba(texts))
    assert result.cv["folds"] == 3 and result.cv["macro_f1_mean"] >= 0.6
    assert result.test["accuracy"] >= 0.6     # separable vocabularies; chance is ~0.44
    folder = tmp_path / "emotion_models" / "hyb"
    assert (folder / "members" / "logreg" / "weights.npz").is_file()
    assert (folder / "members" / "sentence_logreg" / "encoder" / "model.safetensors").is_file()
    assert not list(folder.rglob("*.pkl"))
    loaded = load_model("hyb", tmp_path)
    assert loaded.kind == "hybrid"
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-6)
    assert loaded.classify(["so happy today"])[0]["label"] in {"anger", "joy", "sadness"}
