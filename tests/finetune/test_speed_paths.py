"""The speed paths of knowledge fine-tuning on tiny models: packing keeps the loss, bf16
autocast trains with fp32 master weights, a time budget turns measured throughput into epochs,
and held-out wordings stop training and keep the best epoch."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserError
from core.finetune import duration, throughput
from core.finetune.config import LoraSettings
from core.finetune.data import IGNORE_INDEX, TrainExample, collate, encode_examples
from core.finetune.packing import pack_features, packing_efficiency, stack_rows
from core.finetune.train import train_lora
from core.training.precision import bf16_supported, resolve_precision

TEXTS = ["the harbour crane lifts forty tonnes.", "maps of orbis island are sold at the quay.",
         "a short one.", "the ferry leaves at nine and returns at five every weekday."]


def _token_loss_sum(logits, labels):
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="sum"), int((labels[:, 1:] != IGNORE_INDEX).sum())


def test_packed_loss_equals_unpacked_loss(fresh_llama, tiny_tokenizer):
    examples = [TrainExample("", t) for t in TEXTS] + [TrainExample("what is sold?", "maps")]
    features = encode_examples(examples, tiny_tokenizer, max_length=32, is_seq2seq=False)
    rows = pack_features(features, 32, tiny_tokenizer.pad_token_id)
    assert len(rows) < len(features) and all(len(r["input_ids"]) == 32 for r in rows)
    model = fresh_llama()
    with torch.no_grad():
        packed, n_packed = _token_loss_sum(model(**stack_rows(rows), use_cache=False).logits,
                                           stack_rows(rows)["labels"])
        alone, n_alone = 0.0, 0
        for f in features:
            batch = collate([f], tiny_tokenizer.pad_token_id)
            s, n = _token_loss_sum(model(**batch).logits, batch["labels"])
            alone, n_alone = alone + s, n_alone + n
    assert n_packed == n_alone  # the same tokens carry loss
    assert float(packed / n_packed) == pytest.approx(float(alone / n_alone), abs=1e-5)


def test_packing_keeps_examples_whole_and_reports_efficiency():
    features = [{"input_ids": [1] * n, "labels": [1] * n} for n in (5, 3, 7, 2)]
    rows = pack_features(features, 10, 0)
    assert sorted(r["used"] for r in rows) == [7, 10]  # 7+3 and 5+2 (first-fit decreasing)
    assert packing_efficiency(rows) == pytest.approx(17 / 20)
    with pytest.raises(ValueError, match="max_length"):
        pack_features([{"input_ids": [1] * 11, "labels": [1] * 11}], 10, 0)


@pytest.mark.skipif(not bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_bf16_path_trains_with_fp32_master_weights(fresh_llama, tiny_tokenizer):
    settings = LoraSettings(epochs=8, learning_rate=3e-2, batch_size=2, micro_batch_size=2,
                            max_length=32, precision="bf16", dropout=0.0,
                            target_modules=("q_proj", "v_proj", "lm_head"))
    result = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", t) for t in TEXTS],
                        settings)
    assert result.precision == "bf16"
    assert result.losses[-1] < result.losses[0] - 0.5
    trained = [p for p in result.model.parameters() if p.requires_grad]
    assert trained and all(p.dtype == torch.float32 for p in trained)
    enc = tiny_tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():  # nothing of the autocast outlives training: inference is fp32
        assert result.model(**enc).logits.dtype == torch.float32


def test_precision_choice():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("auto", "cpu") == ("bf16" if bf16_supported("cpu") else "fp32")
    with pytest.raises(UserError, match="precision must be"):
        resolve_precision("fp8", "cpu")


def test_budget_turns_measured_throughput_into_epochs():
    assert throughput.budget_steps(600, 300.0, 2048, 20) == 87  # 180,000 tokens / 2,048
    assert throughput.budget_steps(60, 10.0, 2048, 20) == 20  # always at least one epoch
    assert throughput.budget_steps(6000, 1e6, 10, 3) == 3 * throughput.MAX_BUDGET_EPOCHS
    rate = throughput.Throughput(30.0, "last run", "m", 256, 4, 0.0, row_tokens_per_second=300.0)
    lora = LoraSettings(minutes=10, epochs=0, max_length=64, batch_size=1)
    plan = duration.count_plan([TrainExample("", " ".join(["a"] * 99))], _Tok(), lora,
                               is_seq2seq=False, chunks=1, throughput=rate)
    # 100 tokens -> windows of 64 + 36 -> 2 packed rows = 128 row tokens per epoch;
    # 600 s x 300 row tokens/s = 180,000 -> 1406 epochs, capped
    assert (plan.rows, plan.row_tokens_per_epoch, plan.steps_per_epoch) == (2, 128, 2)
    assert plan.tokens_per_epoch == 100 and plan.epochs == throughput.MAX_BUDGET_EPOCHS
    slow = throughput.Throughput(1.0, "last run", "m", 64, 4, 0.0, row_tokens_per_second=3.2)
    plan = duration.count_plan([TrainExample("", " ".join(["a"] * 99))], _Tok(), lora,
                               is_seq2seq=False, chunks=1, throughput=slow)
    assert (plan.total_steps, plan.epochs) == (30, 15)  # 600 x 3.2 = 1920 / 64 per step
    assert "Time budget 10 min" in plan.explain(lora)


class _Tok:
    """100 one-token words + an end token: enough of a tokenizer for counting."""

    eos_token_id = 2
    sep_token_id = None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [5] * len(text.split())}


def test_budgeted_run_probes_speed_and_plans_epochs(fresh_llama, tiny_tokenizer):
    settings = LoraSettings(epochs=0, minutes=0.25, batch_size=2, micro_batch_size=2,
                            max_length=32, precision="fp32")
    result = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", t) for t in TEXTS],
                        settings)
    assert result.probe_row_tokens_per_second > 0
    rows = result.packed_rows  # rows of 32 tokens, 2 rows per step
    steps = throughput.budget_steps(15, result.probe_row_tokens_per_second, 2 * 32,
                                  -(-rows // 2))
    assert result.total_steps == steps and result.epochs == round(steps / -(-rows // 2), 2)
    assert result.steps <= steps and result.seconds < 15 * 1.1 + 5


def test_held_out_loss_stops_training_and_keeps_the_best_epoch(fresh_llama, tiny_tokenizer):
    """A learning rate far too high makes the held-out loss get worse after a point: training
    stops within PATIENCE epochs of the best one, and the best epoch's weights are restored
    (the held-out loss recomputed on the returned model equals the best recorded)."""
    from core.finetune.train import PATIENCE, _mean_loss

    settings = LoraSettings(epochs=30, learning_rate=0.3, batch_size=2, micro_batch_size=2,
                            max_length=32, precision="fp32", dropout=0.0,
                            target_modules=("q_proj", "v_proj", "lm_head"))
    held = [TrainExample("what leaves at nine?", "the ferry")]
    result = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", t) for t in TEXTS],
                        settings, held_out=held)
    losses = result.held_out_losses
    assert len(losses) == result.epochs_done + 1  # before training, then after each epoch
    assert result.stopped == "held-out loss stopped improving"
    assert result.epochs_done < 30 and result.epochs_done - result.best_epoch == PATIENCE
    features = encode_examples(held, tiny_tokenizer, max_length=32, is_seq2seq=False)
    rows = stack_rows(pack_features(features, 32, tiny_tokenizer.pad_token_id))
    again = _mean_loss(result.model, [rows], "fp32", False)
    assert again == pytest.approx(min(losses[1:]), abs=1e-3)


def test_labelled_loss_equals_the_models_own_loss(fresh_llama, tiny_tokenizer):
    """Projecting only the labelled positions gives transformers' loss, packed or padded."""
    from core.training.losses import labelled_lm_loss

    examples = [TrainExample("", t) for t in TEXTS] + [TrainExample("what is sold?", "maps")]
    features = encode_examples(examples, tiny_tokenizer, max_length=32, is_seq2seq=False)
    model = fresh_llama()
    padded = collate(features, tiny_tokenizer.pad_token_id)
    packed = stack_rows(pack_features(features, 32, tiny_tokenizer.pad_token_id))
    with torch.no_grad():
        for batch in (padded, packed):
            ours = labelled_lm_loss(model, batch)
            theirs = model(**batch, use_cache=False).loss
            assert float(ours) == pytest.approx(float(theirs), abs=1e-5)
