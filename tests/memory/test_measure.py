"""Real measurements in a fresh process on a tiny saved model (MiniLM, in the slow tier:
tests/integration/test_memory_measure_minilm.py)."""

import pytest

from core.memory.estimate import EstimateConfig
from core.memory.measure import compare, error_pct, measurable, measure

TINY = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 512,
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "tie_word_embeddings": False, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM

    from core.memory.params import build_config

    folder = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(build_config(TINY)).save_pretrained(folder)
    return str(folder)


def test_error_pct_and_compare():
    """(110 - 100) / 100 = +10 %; the tensor row sums weights, grads, optimizer and KV."""
    assert error_pct(110, 100) == 10.0 and error_pct(5, 0) is None
    est = {"weights": 100, "gradients": 10, "optimizer": 20, "kv_cache": 0,
           "activations": 50, "overhead": 0, "total": 180}
    m = {"tensor_bytes": {"weights": 100, "gradients": 10, "optimizer": 20, "kv_cache": 0,
                          "activations_saved": 40}, "peak_rss_delta": 200,
         "cuda_peak_allocated": None}
    rows = compare(est, m, "cpu", stored_activations=44)
    assert [r["error_pct"] for r in rows] == [0.0, 10.0, -10.0]
    assert "RSS" in rows[-1]["method"]


@pytest.mark.parametrize("dtype,mode,reason", [
    ("int4", "inference", "bitsandbytes on a CUDA GPU"),
    ("bf16", "qlora", "bitsandbytes on a CUDA GPU"),
    ("int8", "lora", "int8 is measured for inference only"),
    ("bf16", "full", "measured at fp32 only"),
])
def test_unmeasurable_on_cpu_says_why(dtype, mode, reason):
    assert reason in measurable(dtype, mode, "cpu")
    out = measure(TINY, "/nonexistent", EstimateConfig(dtype=dtype, mode=mode, seq=8))
    assert out["measured"] is None and reason in out["reason"]
    assert out["estimate"]["bytes"]["total"] > 0


def test_lora_step_measured_tensors_match_estimate(tiny_folder):
    """Weights, LoRA grads and AdamW states are exact tensor accounting: ~0 % error.

    Tiny model, r=4 on q,v: 2 layers x 4 x ((64+64) + (64+32)) = 1,792 trainable params ->
    grads 1,792 x 4 B = 7,168 B and AdamW states 2 x 7,168 B (+ two 4-byte step counters).
    """
    out = measure(TINY, tiny_folder, EstimateConfig(dtype="fp32", mode="lora", seq=32,
                                                    batch=2, lora_r=4))
    m = out["measured"]
    assert m["tensor_bytes"]["gradients"] == 1_792 * 4
    assert 2 * 1_792 * 4 <= m["tensor_bytes"]["optimizer"] <= 2 * 1_792 * 4 + 64
    assert m["tensor_bytes"]["activations_saved"] > 0
    tensors = out["comparison"][0]
    assert abs(tensors["error_pct"]) < 1
    assert m["peak_rss_delta"] > 0 and m["peak_reset"]


def test_int8_inference_uses_dynamic_quantization(tiny_folder):
    out = measure(TINY, tiny_folder, EstimateConfig(dtype="int8", seq=16))
    m = out["measured"]
    assert any("quantize_dynamic" in n for n in m["notes"])
    assert m["tensor_bytes"]["kv_cache"] == 2 * 2 * 2 * 16 * 16 * 4  # 2 layers, fp32 cache
    assert abs(out["comparison"][0]["error_pct"]) < 5


def test_full_fine_tuning_step_is_16_bytes_per_param_measured(tiny_folder):
    """fp32 full fine-tuning with AdamW: weights 4 + grads 4 + m 4 + v 4 = 16 B/param,
    measured on the live tensors (AdamW's step counters add a few bytes)."""
    from core.memory.params import count_params

    out = measure(TINY, tiny_folder, EstimateConfig(dtype="fp32", mode="full", seq=16))
    tb, p = out["measured"]["tensor_bytes"], count_params(TINY).total
    assert tb["gradients"] == 4 * p
    assert 0 <= tb["weights"] - 4 * p <= 64  # + buffers: RoPE inv_freq, 16 fp32 values
    assert 8 * p <= tb["optimizer"] <= 8 * p + 4 * 64


@pytest.mark.gpu
def test_cuda_peak_allocated(tiny_folder):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    out = measure(TINY, tiny_folder, EstimateConfig(dtype="fp16", seq=32), device="cuda")
    assert out["measured"]["cuda_peak_allocated"] > 0
    assert "max_memory_allocated" in out["comparison"][-1]["method"]
