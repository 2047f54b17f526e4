"""Transformer fine-tuning on a tiny BERT (config-built) with the real MiniLM tokenizer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.emotions.models_store import load_model
from core.emotions.training import TrainConfig, train
from core.emotions.transformer import TransformerConfig, class_weights
from core.errors import UserError


def test_class_weights_known_answer():
    """n=4, K=2, counts [3, 1] -> [4/(2*3), 4/(2*1)] = [0.667, 2.0]."""
    assert np.allclose(class_weights(np.array([0, 0, 0, 1]), 2), [4 / 6, 2.0])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs"), ({"learning_rate": 2.0}, "learning_rate"),
    ({"imbalance": "smote"}, "smote"), ({"max_length": 4}, "max_length")])
def test_config_validation(kwargs, match):
    with pytest.raises(UserError, match=match):
        TransformerConfig(**kwargs)


@pytest.mark.parametrize("imbalance", ["class_weights", "oversample"])
def test_fine_tune_tiny_bert_reports_and_reloads(small_data, tiny_bert_base, tmp_path,
                                                 imbalance):
    losses, fractions = [], []
    config = TransformerConfig(epochs=2, batch_size=16, imbalance=imbalance, patience=5)
    result = train(small_data, TrainConfig(model="transformer", name=f"tiny-{imbalance}"),
                   tmp_path, progress=lambda f, m: fractions.append(f),
                   on_loss=losses.append, base=tiny_bert_base, transformer=config)
    train_losses = [r["loss"] for r in losses if "loss" in r]
    val = [r for r in losses if "val_macro_f1" in r]
    assert len(val) == 2 and len(train_losses) >= 8
    assert fractions[-1] == 1.0 and all(b >= a for a, b in itertools.pairwise(fractions))
    assert result.cv["folds"] == 0 and result.cv["validation_rows"] > 0
    assert result.model.info["imbalance"] == imbalance
    folder = tmp_path / "emotion_models" / f"tiny-{imbalance}" / "encoder"
    assert (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pkl"))
    loaded = load_model(f"tiny-{imbalance}", tmp_path)
    texts = small_data.texts[:10]
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts),
                       atol=1e-5)
    out = loaded.classify(["happy day"])[0]
    assert set(out["scores"]) == {"anger", "joy", "sadness"}
