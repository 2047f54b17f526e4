"""Estimator formulas: known answers derived by hand in each docstring."""

import pytest

from core.errors import UserError
from core.memory import formulas as F
from core.memory.arch import arch_from_config
from core.memory.catalog import catalog_config
from core.memory.estimate import COMPONENTS, EstimateConfig, estimate
from core.presenters.memory import component_rows, precision_comparison

LLAMA8B = catalog_config("Llama-3.1-8B")
NO_OVERHEAD = {"context_bytes": 0, "overhead_fraction": 0.0}


def test_kv_cache_bytes_per_token_gqa():
    """Llama-3.1-8B uses GQA: 8 KV heads (not 32) of head_dim 128, 32 layers.
    Per token in fp16: 2 (K,V) x 32 x 8 x 128 x 2 B = 131,072 B (128 KiB); with 32 KV heads
    (plain multi-head attention) it would be 4x more."""
    a = arch_from_config(LLAMA8B)
    assert F.kv_cache_bytes(a, seq=1, batch=1, elem_bytes=2) == 131_072
    e = estimate(LLAMA8B, EstimateConfig(dtype="fp16", seq=8192, batch=4, **NO_OVERHEAD))
    assert e.bytes["kv_cache"] == 131_072 * 8192 * 4


def test_mixed_precision_adamw_is_16_bytes_per_param():
    """ZeRO §3.1: fp16 weights 2 + fp16 grads 2 + fp32 master 4 + Adam m 4 + v 4 = 16 B."""
    e = estimate(LLAMA8B, EstimateConfig(dtype="bf16", mode="full", **NO_OVERHEAD))
    p = e.params_total
    assert e.params_trainable == p
    assert e.bytes["weights"] + e.bytes["gradients"] + e.bytes["optimizer"] == 16 * p


@pytest.mark.parametrize("dtype,optimizer,per_param", [
    ("bf16", "adamw8bit", 2 + 2 + 4 + 2),  # 8-bit Adam states, fp32 master
    ("fp16", "sgd", 2 + 2 + 4 + 4),  # momentum buffer, fp32 master
    ("fp32", "adamw", 4 + 4 + 8),  # no master copy in pure fp32
    ("fp32", "sgd", 4 + 4 + 4),
])
def test_optimizer_bytes_per_param(dtype, optimizer, per_param):
    e = estimate(LLAMA8B, EstimateConfig(dtype=dtype, mode="full", optimizer=optimizer))
    assert e.bytes["weights"] + e.bytes["gradients"] + e.bytes["optimizer"] == (
        per_param * e.params_total)


def test_int4_weights_nf4_double_quant():
    """QLoRA: 4 bits + 8/64 + 32/(64*256) = 4.127 bits per quantized param; the rest
    (embeddings, untied head, norms) stays 16-bit."""
    pc_cfg = catalog_config("Llama-2-7b-hf")
    e = estimate(pc_cfg, EstimateConfig(dtype="int4", **NO_OVERHEAD))
    from core.memory.params import count_params

    pc = count_params(pc_cfg)
    expected = pc.matrix * 4.127 / 8 + (pc.total - pc.matrix) * 2
    assert e.bytes["weights"] == pytest.approx(expected, rel=1e-4)
    assert 0.26 < e.bytes["weights"] / (pc.total * 2) < 0.30  # ~3.5-3.9 GB vs 13.5 GB


def test_korthikanti_layer_formula():
    """GPT-2 (h=768, a=12) at s=1024, b=1 without flash attention: per layer
    s*b*h*(34 + 5*a*s/h) = 1024*768*(34 + 80) = 89,653,248 bytes in 16-bit."""
    a = arch_from_config(catalog_config("gpt2"))
    assert F.layer_activation_bytes(a, 1024, 1, 2, flash=False) == 89_653_248
    assert F.layer_activation_bytes(a, 1024, 1, 2, flash=True) == 1024 * 768 * 34


def test_checkpointing_cuts_activations():
    """With full checkpointing only 2*s*b*h per layer plus one layer is stored."""
    ec = EstimateConfig(dtype="bf16", mode="full", seq=4096)
    plain = estimate(LLAMA8B, ec).details["activations_stored"]
    ck = estimate(LLAMA8B, EstimateConfig(dtype="bf16", mode="full", seq=4096,
                                          grad_checkpointing=True)).details["activations_stored"]
    s, h, layer = 4096, 4096, 4096 * 4096 * 34
    assert ck == 32 * 2 * s * h + layer + 4 * s * 128256
    assert plain > 5 * ck


def test_components_are_summed():
    e = estimate(LLAMA8B, EstimateConfig(dtype="bf16", mode="lora"))
    assert e.bytes["total"] == pytest.approx(sum(e.bytes[c] for c in COMPONENTS))
    assert component_rows(e.bytes)[-1]["component"] == "total"
    assert {f["component"] for f in e.formulas} <= set(COMPONENTS)
    assert all(f["source"] for f in e.formulas)


def test_seven_b_story():
    """Mistral-7B: fp16 inference fits 24 GiB, full fine-tuning does not, QLoRA does."""
    cfg, gib = catalog_config("Mistral-7B-v0.1"), 1024**3
    infer = estimate(cfg, EstimateConfig(dtype="fp16", seq=2048)).total
    full = estimate(cfg, EstimateConfig(dtype="fp16", mode="full", seq=2048)).total
    qlora = estimate(cfg, EstimateConfig(dtype="int4", mode="qlora", seq=512)).total
    assert infer < 24 * gib < full
    assert qlora < 24 * gib


def test_precision_comparison_orders():
    rows = precision_comparison(LLAMA8B, EstimateConfig(seq=1024))
    inf = {r["precision"]: r["bytes"] for r in rows if r["task"] == "inference"}
    assert inf["fp32"] > inf["fp16"] > inf["int8"] > inf["int4"]


def test_encoder_has_no_kv_cache():
    e = estimate(catalog_config("bert-base-uncased"), EstimateConfig(dtype="fp32", seq=512))
    assert e.bytes["kv_cache"] == 0


@pytest.mark.parametrize("kwargs,field", [
    ({"dtype": "fp64"}, "dtype"), ({"mode": "train"}, "mode"), ({"batch": 0}, "batch"),
    ({"seq": -5}, "seq"), ({"optimizer": "adam"}, "optimizer"), ({"lora_r": 0}, "lora_r"),
    ({"mode": "full", "dtype": "int4"}, "full fine-tuning"),
    ({"mode": "lora", "lora_targets": ()}, "lora_targets"),
])
def test_bad_estimate_inputs(kwargs, field):
    with pytest.raises(UserError, match=field):
        EstimateConfig(**kwargs)


def test_unknown_lora_target_names_layers():
    with pytest.raises(UserError, match=r"matches no linear layer.*q_proj"):
        estimate(LLAMA8B, EstimateConfig(mode="lora", lora_targets=("attn",)))


def test_fp32_attention_scores_on_math_path():
    """GPT-2 at s=1024, 16-bit, scores in fp32 (CPU math SDPA): 1024*768*34 bytes for the
    rest of the layer + 5*12*1024*1024*4/2 = 125,829,120 bytes of score tensors."""
    a = arch_from_config(catalog_config("gpt2"))
    got = F.layer_activation_bytes(a, 1024, 1, 2, flash=False, score_bytes=4)
    assert got == 1024 * 768 * 34 + 125_829_120


def test_lora_16bit_keeps_fp32_adapter_inputs():
    """SmolLM2 LoRA in bf16: peft's fp32 adapters keep an fp32 copy of each adapted module's
    input (s*b*576*4 B per layer); adapting v as well as q adds 30 layers x 576 x 4 B = 69,120
    B per token of stored activations."""
    cfg = catalog_config("SmolLM2-135M")
    qv = estimate(cfg, EstimateConfig(dtype="bf16", mode="lora", seq=100))
    q = estimate(cfg, EstimateConfig(dtype="bf16", mode="lora", seq=100, lora_targets=("q",)))
    assert qv.details["activations_stored"] - q.details["activations_stored"] == (
        100 * 30 * 576 * 4)
