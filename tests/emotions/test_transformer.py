"""Transformer fine-tuning on a tiny BERT (config-built) with the real MiniLM tokenizer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.emotions.models_store import load_model
from core.emotions.training import TrainConfig, train
from core.emotions.transformer import TransformerConfig, class_weights, layerwise_groups
from core.errors import UserError


def one_copy(**fields) -> TransformerConfig:
    """One fine-tuned copy from the labels alone (the two-copy default and the distillation
    have their own tests): half the time, and no TF-IDF teacher to fit."""
    return TransformerConfig(**{"ensemble_size": 1, "distill": 0.0, **fields})


def test_class_weights_known_answer():
    """n=4, K=2, counts [3, 1] -> [4/(2*3), 4/(2*1)] = [0.667, 2.0]."""
    assert np.allclose(class_weights(np.array([0, 0, 0, 1]), 2), [4 / 6, 2.0])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs"), ({"learning_rate": 2.0}, "learning_rate"),
    ({"imbalance": "smote"}, "smote"), ({"max_length": 4}, "max_length"),
    ({"layer_decay": 0.0}, "layer_decay"), ({"layer_decay": 1.5}, "layer_decay")])
def test_config_validation(kwargs, match):
    with pytest.raises(UserError, match=match):
        TransformerConfig(**kwargs)


@pytest.mark.parametrize("imbalance", ["class_weights", "oversample"])
def test_fine_tune_tiny_bert_reports_and_reloads(small_data, tiny_bert_base, tmp_path,
                                                 imbalance):
    losses, fractions = [], []
    config = one_copy(epochs=2, batch_size=16, imbalance=imbalance, patience=5)
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


def test_fitted_length_follows_tweet_token_counts(tiny_tokenizer):
    """99th percentile of token counts rounded up to a multiple of 8, within [16, cap]."""
    from core.emotions.transformer import fitted_length

    short = ["good day"] * 50                       # 4 tokens with [CLS]/[SEP] -> floor 16
    assert fitted_length(tiny_tokenizer, short, 64) == 16
    long = [" ".join(["word"] * 30)] * 50            # 32 tokens -> 32
    assert fitted_length(tiny_tokenizer, long, 64) == 32
    assert fitted_length(tiny_tokenizer, [" ".join(["word"] * 100)], 64) == 64


def test_length_batches_group_similar_lengths_and_cover_every_row():
    from core.emotions.transformer import length_batches

    lengths = np.array([5, 40, 6, 41, 7, 42])
    batches = length_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(6))
    assert sorted(sorted(lengths[b].tolist()) for b in batches) == [[5, 6, 7], [40, 41, 42]]


def test_early_stopping_keeps_the_best_epoch(small_data, tiny_bert_base, tmp_path):
    """With a learning rate too small to change anything, validation macro-F1 never improves
    after epoch 1: patience 2 stops after epoch 3 of 10 and keeps epoch 1's weights. Progress
    messages carry the elapsed time and an ETA."""
    messages = []
    config = one_copy(epochs=10, batch_size=16, learning_rate=1e-12, patience=2,
                      bf16="off")
    result = train(small_data, TrainConfig(model="transformer", name="es", refit=False),
                   tmp_path, progress=lambda f, m: messages.append(m), base=tiny_bert_base,
                   transformer=config, save=False)
    info = result.model.info
    assert info["epochs_run"] == 3 and info["best_epoch"] == 1
    assert 16 <= info["max_length"] <= 64 and info["bf16"] is False
    assert any("ETA" in m and "elapsed" in m for m in messages)


def test_refit_trains_the_chosen_epochs_on_every_row(small_data, tiny_bert_base, tmp_path):
    """The saved transformer is refit on train + held-out rows for the epoch count early
    stopping chose (no validation rows); the test metrics are the first model's."""
    config = one_copy(epochs=10, batch_size=16, learning_rate=1e-12, patience=2,
                      bf16="off")
    progress = []
    result = train(small_data, TrainConfig(model="transformer", name="rf"), tmp_path,
                   base=tiny_bert_base, transformer=config, save=False,
                   progress=lambda f, m: progress.append(f))
    info = result.model.info
    assert info["selection"] == {"epochs_run": 3, "best_epoch": 1,
                                 "best_val_macro_f1": info["selection"]["best_val_macro_f1"],
                                 "validation_rows": info["selection"]["validation_rows"]}
    assert info["selection"]["validation_rows"] > 0 and info["validation_rows"] == 0
    assert info["epochs_run"] == 1
    assert info["train"]["refit_rows"] == len(small_data.texts)
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_warmup_then_linear_decay(small_data, tiny_bert_base, tmp_path, monkeypatch):
    """10% warm-up: the learning rate rises from 0 (the Trainer's linear schedule) to lr, then
    decays to ~0."""
    import torch

    seen = []
    real_step = torch.optim.AdamW.step

    def step(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    config = one_copy(epochs=2, batch_size=8, learning_rate=1e-3, warmup_ratio=0.2,
                      patience=5, bf16="off")
    train(small_data, TrainConfig(model="transformer", name="wu"), tmp_path,
          base=tiny_bert_base, transformer=config, save=False)
    peak = int(np.argmax(seen))
    assert seen[0] < seen[peak] == pytest.approx(1e-3) and 0 < peak < len(seen) // 2
    assert seen[-1] < 0.2e-3


def test_layerwise_rates_fall_by_the_decay_per_block_below_the_head(tiny_bert_base):
    """2 blocks, decay 0.5: head x1, block 1 x0.5, block 0 x0.25, embeddings x0.125; every
    parameter in exactly one group; decay 1 is one group at the full rate."""
    model, _ = tiny_bert_base(["a", "b"])
    groups = layerwise_groups(model, 1e-3, 0.5)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(rate) == len(list(model.parameters()))
    named = dict(model.named_parameters())
    expect = {"bert.embeddings.word_embeddings.weight": 1e-3 / 8,
              "bert.encoder.layer.0.attention.self.query.weight": 1e-3 / 4,
              "bert.encoder.layer.1.output.dense.bias": 1e-3 / 2,
              "bert.pooler.dense.weight": 1e-3, "classifier.weight": 1e-3}
    for name, lr in expect.items():
        assert rate[id(named[name])] == pytest.approx(lr), name
    assert [g["lr"] for g in layerwise_groups(model, 1e-3, 1.0)] == [1e-3]


def test_layer_decay_keeps_its_ratios_through_warmup_and_decay(small_data, tiny_bert_base,
                                                                 tmp_path, monkeypatch):
    """The scheduler scales every group alike: embeddings/head stays decay**3 at each step."""
    import torch

    seen = []
    real_step = torch.optim.AdamW.step

    def step(self, *a, **k):
        seen.append(sorted(g["lr"] for g in self.param_groups))
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    config = one_copy(epochs=2, batch_size=8, learning_rate=1e-3, layer_decay=0.5,
                      patience=5, bf16="off")
    result = train(small_data, TrainConfig(model="transformer", name="ld", refit=False),
                   tmp_path, base=tiny_bert_base, transformer=config, save=False)
    assert result.model.info["layer_decay"] == 0.5
    assert len(seen) > 4 and all(len(lrs) == 4 for lrs in seen)
    moving = [lrs for lrs in seen if lrs[-1] > 0]  # the warm-up's first step runs at 0
    assert len(moving) >= len(seen) - 2
    for lrs in moving:
        assert lrs[0] / lrs[-1] == pytest.approx(0.125)
    assert max(lrs[-1] for lrs in seen) == pytest.approx(1e-3)


def test_mean_pooling_ignores_padding(tiny_bert_base):
    """A tweet's logits are the same alone and padded inside a batch with a longer one: the
    mean runs over its real tokens only."""
    import torch

    from core.emotions.pooling import MeanPoolClassifier

    model, tok = tiny_bert_base(["a", "b", "c"])
    clf = MeanPoolClassifier.from_classifier(model).eval()
    with torch.no_grad():
        alone = clf(**tok(["so happy"], return_tensors="pt")).logits
        batch = clf(**tok(["so happy", "a much longer tweet about a rainy day at work"],
                          padding=True, return_tensors="pt")).logits
    assert torch.allclose(alone[0], batch[0], atol=1e-5)
    assert not torch.allclose(batch[0], batch[1], atol=1e-3)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_pooling_choice_trains_saves_and_reloads(small_data, tiny_bert_base, tmp_path, pooling):
    """Mean pooling saves the bare encoder + ``classifier.safetensors`` and starts its head
    from a linear probe; ``cls`` keeps transformers' own head. Both reload to the same
    probabilities."""
    config = one_copy(epochs=1, batch_size=16, pooling=pooling, bf16="off")
    result = train(small_data, TrainConfig(model="transformer", name=f"p-{pooling}",
                                           refit=False), tmp_path, base=tiny_bert_base,
                   transformer=config)
    folder = tmp_path / "emotion_models" / f"p-{pooling}" / "encoder"
    assert (folder / "classifier.safetensors").is_file() == (pooling == "mean")
    info = result.model.info
    assert info["pooling"] == pooling
    assert (info["probe"] or {}).get("used", False) == (pooling == "mean")
    if pooling == "mean":
        assert 0 < info["probe"]["train_accuracy"] <= 1
    loaded = load_model(f"p-{pooling}", tmp_path)
    texts = small_data.texts[:8]
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts), atol=1e-5)


def test_transformer_hybrid_averages_its_members_refits_and_reloads(small_data, tiny_bert_base,
                                                                    tmp_path):
    """The mean of the TF-IDF logistic regression and the fine-tuned encoder, each trained
    its own way; the refit reuses the member's C and the epoch count early stopping chose."""
    config = one_copy(epochs=2, batch_size=16, patience=5)
    result = train(small_data, TrainConfig(model="transformer_hybrid", name="tfh"), tmp_path,
                   base=tiny_bert_base, transformer=config)
    words, encoder = result.model.head.members
    assert (words.kind, encoder.kind) == ("logreg", "transformer")
    assert words.emoji_signal is not None and not encoder.preprocess.lowercase
    texts = small_data.texts[:12]
    assert np.allclose(result.model.predict_proba(texts),
                       (words.predict_proba(texts) + encoder.predict_proba(texts)) / 2)
    members = result.cv["members"]
    assert members["logreg"]["folds"] == 3 and members["transformer"]["validation_rows"] > 0
    chosen = result.model.info["params"]
    assert chosen["logreg"]["C"] in (0.5, 2.0, 8.0) and 1 <= chosen["epochs"] <= 2
    assert encoder.info["epochs_run"] == chosen["epochs"]      # the refit: every row,
    assert encoder.info["validation_rows"] == 0                # no validation split
    folder = tmp_path / "emotion_models" / "tfh" / "members"
    assert (folder / "transformer" / "encoder" / "model.safetensors").is_file()
    assert (folder / "logreg" / "weights.npz").is_file()
    loaded = load_model("tfh", tmp_path)
    assert loaded.kind == "transformer_hybrid"
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts),
                       atol=1e-5)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_ensemble_averages_seeded_copies_refits_and_reloads(small_data, tiny_bert_base,
                                                            tmp_path, pooling):
    """ensemble_size=2: the first copy picks the epoch count by early stopping, the second
    (next seed, that epoch count, every row) differs from it; the head's probabilities are
    the mean of the two networks'; both are saved and reload to the same numbers; the refit
    trains both again on every row."""
    import torch

    config = TransformerConfig(epochs=3, batch_size=16, patience=5, ensemble_size=2,
                               pooling=pooling, bf16="off")
    fractions, messages = [], []
    result = train(small_data, TrainConfig(model="transformer", name=f"ens-{pooling}"),
                   tmp_path, base=tiny_bert_base, transformer=config,
                   progress=lambda f, m: (fractions.append(f), messages.append(m)))
    head, info = result.model.head, result.model.info
    assert len(head.networks) == 2
    assert info["ensemble"]["size"] == 2 and info["ensemble"]["seeds"] == [0, 1]
    assert info["ensemble"]["epochs"] == [info["epochs_run"]] * 2   # the refit: fixed epochs
    assert info["selection"]["best_epoch"] == info["epochs_run"]
    first, second = (dict(n.named_parameters()) for n in head.networks)
    assert any(not torch.equal(first[k], second[k]) for k in first)
    texts = small_data.texts[:10]
    enc = head.tokenizer(result.model.prepare(texts), truncation=True, padding=True,
                         max_length=head.max_length, return_tensors="pt")
    with torch.no_grad():
        each = [torch.softmax(n(**enc).logits, -1).numpy() for n in head.networks]
    assert np.allclose(result.model.predict_proba(texts), np.mean(each, axis=0), atol=1e-5)
    assert not np.allclose(each[0], each[1], atol=1e-4)
    folder = tmp_path / "emotion_models" / f"ens-{pooling}"
    assert (folder / "encoder").is_dir() and (folder / "encoder-1").is_dir()
    assert not (folder / "encoder-1" / "tokenizer.json").exists()
    loaded = load_model(f"ens-{pooling}", tmp_path)
    assert len(loaded.head.networks) == 2
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts),
                       atol=1e-5)
    assert any("ensemble member 2/2" in m for m in messages)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_ensemble_size_is_validated():
    with pytest.raises(UserError, match="ensemble_size"):
        TransformerConfig(ensemble_size=0)
    with pytest.raises(UserError, match="ensemble_size"):
        TrainConfig(model="transformer", name="x", ensemble_size=9)
