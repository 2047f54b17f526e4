"""Knowledge fine-tuning on the Trainer's own parts, on a tiny Llama built from a config: the
linear warm-up schedule has the documented shape, the time budget stops training, and early
stopping hands back the best epoch's weights (not the last one's)."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainerCallback

import core.finetune.train as train_module
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample, encode_examples
from core.finetune.packing import pack_features, stack_rows
from core.training.callbacks import TimeBudget
from core.training.trainer import BatchTrainer

TEXTS = ["the ferry leaves the harbour at nine.", "the market sells maps and salt.",
         "orbis island has one lighthouse.", "the council meets on mondays."]


class _Rates(TrainerCallback):
    """The learning rate each optimiser step ran at (the Trainer logs it before the update)."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "learning_rate" in logs and "loss" in logs:
            self.rates.append(logs["learning_rate"])


def _parts(tokenizer, steps: int) -> list[dict]:
    ids = tokenizer("the ferry leaves at nine", return_tensors="pt")["input_ids"]
    return [{"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
            for _ in range(steps)]


def _trainer(model, args, parts, callbacks):
    return BatchTrainer(model=model, args=args, epoch_batches=lambda epoch: list(parts),
                        batches_per_epoch=len(parts), callbacks=callbacks,
                        loss=lambda m, batch: m(**batch).loss * batch["labels"][:, 1:].numel())


def test_warm_up_rises_linearly_from_zero_then_decays_to_zero(fresh_llama, tiny_tokenizer,
                                                             tmp_path):
    """train_lora's own arguments over 20 steps: warm-up ceil(0.1 x 20) = w = 2 steps, step s
    (from 0) at peak x s / w, then peak x (20 - s) / (20 - w): 0, 0.5, 1, 17/18, ..., 1/18."""
    settings = LoraSettings(epochs=1, batch_size=1, micro_batch_size=1, learning_rate=1e-3)
    data = train_module._encode([TrainExample("", TEXTS[0])], tiny_tokenizer, settings, False)
    args = train_module._args(tmp_path, data, torch.device("cpu"), evaluate=False)
    rates = _Rates()
    _trainer(fresh_llama(), args, _parts(tiny_tokenizer, 20), [rates]).train()
    total, warm = 20, 2
    expected = [1e-3 * (s / warm if s < warm else (total - s) / (total - warm))
                for s in range(total)]
    assert rates.rates == pytest.approx(expected, abs=1e-9)


def test_time_budget_stops_training_at_the_first_step_past_it(fresh_llama, tiny_tokenizer,
                                                              tmp_path):
    settings = LoraSettings(epochs=1, batch_size=1, micro_batch_size=1)
    data = train_module._encode([TrainExample("", TEXTS[0])], tiny_tokenizer, settings, False)
    args = train_module._args(tmp_path, data, torch.device("cpu"), evaluate=False)
    budget = TimeBudget(0.0)
    rates = _Rates()
    _trainer(fresh_llama(), args, _parts(tiny_tokenizer, 6), [budget, rates]).train()
    assert budget.stopped and len(rates.rates) == 1  # 6 planned, one run


def test_a_look_ahead_budget_stops_before_a_step_that_would_end_past_it():
    """With ``ahead`` the next step is taken to last as long as the last one: 4 s steps and
    3 s left stop now; without it, training goes on until a step has ended past the deadline."""
    from types import SimpleNamespace

    clock = {"t": 100.0}
    args, state = SimpleNamespace(world_size=1), SimpleNamespace()
    for ahead, stopped in ((True, True), (False, False)):
        control = SimpleNamespace(should_training_stop=False)
        budget = TimeBudget(until=107.0, ahead=ahead)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("core.training.callbacks.time.perf_counter", lambda: clock["t"])
            clock["t"] = 100.0
            budget.on_train_begin(args, state, control)
            clock["t"] = 104.0  # the first step took 4 s, 3 s are left
            budget.on_step_end(args, state, control)
        assert (budget.stopped, control.should_training_stop) == (stopped, stopped)


def test_budgeted_train_lora_reports_the_time_budget_stop(fresh_llama, tiny_tokenizer,
                                                          monkeypatch):
    """A budget run plans at least one epoch; with the overrun factor near 0 its clock is
    past the budget at the first step, which is the last."""
    monkeypatch.setattr(train_module, "OVERRUN", 1e-9)
    result = train_module.train_lora(
        fresh_llama(), tiny_tokenizer, [TrainExample("", t) for t in TEXTS],
        LoraSettings(epochs=0, minutes=0.25, batch_size=1, micro_batch_size=1, packing=False,
                     precision="fp32"))
    assert result.total_steps >= 4 and result.steps == 1 and result.stopped == "time budget"


def test_early_stopping_restores_the_best_epoch_not_the_last(fresh_llama, tiny_tokenizer):
    """A learning rate far too high: the held-out loss falls, then rises. Training stops
    PATIENCE epochs after the best; the returned model's held-out loss is the best recorded,
    not the last epoch's (so the weights were put back)."""
    settings = LoraSettings(epochs=30, learning_rate=0.3, batch_size=2, micro_batch_size=2,
                            max_length=32, precision="fp32", dropout=0.0,
                            target_modules=("q_proj", "v_proj", "lm_head"))
    held = [TrainExample("what leaves at nine?", "the ferry")]
    result = train_module.train_lora(fresh_llama(), tiny_tokenizer,
                                     [TrainExample("", t) for t in TEXTS], settings,
                                     held_out=held)
    losses = result.held_out_losses
    assert result.stopped == "held-out loss stopped improving"
    assert result.epochs_done - result.best_epoch == train_module.PATIENCE
    assert losses[-1] > min(losses[1:])  # the last epoch was worse than the best
    rows = stack_rows(pack_features(encode_examples(held, tiny_tokenizer, max_length=32,
                                                    is_seq2seq=False),
                                    32, tiny_tokenizer.pad_token_id))
    again = train_module._mean_loss(result.model, [rows], "fp32", False)
    assert again == pytest.approx(losses[result.best_epoch], abs=1e-3)
    assert abs(again - losses[-1]) > 1e-3
