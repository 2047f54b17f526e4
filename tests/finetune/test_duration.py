"""Estimates before a run: steps counted as training counts them, time = tokens / measured
training tokens per second (the last run's, or a one-micro-batch probe's)."""

from __future__ import annotations

import pytest

from core.finetune import duration, throughput
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample
from core.finetune.train import train_lora

HUNDRED = TrainExample("", " ".join(["a"] * 99))  # 99 word pieces + [SEP] as end = 100 tokens


@pytest.mark.parametrize(("max_length", "windows", "steps"), [(16, 7, 4), (64, 2, 2)])
def test_known_answer_plan_and_time(tiny_tokenizer, max_length, windows, steps):
    """100 tokens cut into windows of 16: 6 full + 1 of 4 = 7 windows -> ceil(7 / 4) = 2 steps
    per epoch x 2 epochs = 4 steps. At 64: 64 + 36 = 2 windows -> 1 x 2 = 2 steps. Either way
    200 training tokens; at 50 tokens/s -> 4 s. A smaller max length means more steps."""
    lora = LoraSettings(max_length=max_length, batch_size=4, epochs=2, packing=False)
    rate = throughput.Throughput(50.0, "last run", "m", 256, 1, 0.0)
    plan = duration.count_plan([HUNDRED], tiny_tokenizer, lora, is_seq2seq=False, chunks=1,
                               throughput=rate)
    assert (plan.windows, plan.total_steps, plan.train_tokens) == (windows, steps, 200)
    assert plan.seconds == 4.0
    assert f"**{windows} windows**" in plan.explain(lora)
    assert f"**{steps} steps**" in plan.explain(lora)


def test_plan_counts_what_training_does(fresh_llama, tiny_tokenizer):
    examples = [HUNDRED, TrainExample("", "a short one."), TrainExample("q?", "an answer")]
    lora = LoraSettings(max_length=32, batch_size=3, epochs=2)
    plan = duration.count_plan(examples, tiny_tokenizer, lora, is_seq2seq=False, chunks=3)
    result = train_lora(fresh_llama(), tiny_tokenizer, examples, lora)
    assert (plan.total_steps, plan.train_tokens) == (result.total_steps, result.train_tokens)
    assert plan.seconds is None  # no measured rate, no guess


def test_throughput_is_kept_per_model(app_settings, monkeypatch):
    assert throughput.load_throughput(app_settings) is None
    throughput.record_throughput(app_settings, 123.456, "probe", LoraSettings(max_length=128))
    rate = throughput.load_throughput(app_settings)
    assert (rate.tokens_per_second, rate.source, rate.max_length) == (123.46, "probe", 128)
    from core.settings import load_settings

    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", "another-model")
    assert throughput.load_throughput(load_settings()) is None  # another model's rate is no guide


def test_probe_then_run_record_measured_rates(tiny_env, tiny_tokenizer):
    from core.finetune.pipeline import run_finetune

    lora = LoraSettings(epochs=1, batch_size=2)
    probe = duration.measure_throughput(tiny_env, "mini", lora)
    assert probe.source == "probe" and probe.tokens_per_second > 0
    plan = duration.plan_run(tiny_env, "mini", lora, tiny_tokenizer, is_seq2seq=False)
    assert plan.throughput == probe
    assert plan.seconds == pytest.approx(plan.train_tokens / probe.tokens_per_second)
    summary = run_finetune(tiny_env, "mini", "rated", lora)
    assert plan.total_steps == summary["total_steps"]
    assert plan.train_tokens == summary["train_tokens"]
    rate = throughput.load_throughput(tiny_env)
    assert rate.source == "last run"
    assert rate.tokens_per_second == pytest.approx(summary["tokens_per_second"], rel=0.01)
