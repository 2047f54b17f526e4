"""LoRA trainable counts equal peft's on tiny real models built from configs."""

import pytest

from core.memory.arch import arch_from_config
from core.memory.estimate import EstimateConfig, estimate, lora_param_count, lora_targets
from core.memory.params import build_config, count_params

DEC = {"vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "pad_token_id": 0,
       "bos_token_id": 1, "eos_token_id": 2}
TINY = {
    "llama": {"model_type": "llama", **DEC},
    "mistral": {"model_type": "mistral", **DEC},
    "mixtral": {"model_type": "mixtral", **DEC, "num_local_experts": 4,
                "num_experts_per_tok": 2},
    "qwen2": {"model_type": "qwen2", **DEC},
    "phi3": {"model_type": "phi3", **DEC},
    "gemma2": {"model_type": "gemma2", **DEC, "head_dim": 16},
    "gpt2": {"model_type": "gpt2", "vocab_size": 128, "n_embd": 32, "n_layer": 2, "n_head": 4,
             "n_positions": 64},
    "bert": {"model_type": "bert", "vocab_size": 128, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64},
    "t5": {"model_type": "t5", "vocab_size": 128, "d_model": 32, "d_kv": 8, "d_ff": 64,
           "num_layers": 2, "num_decoder_layers": 1, "num_heads": 4,
           "feed_forward_proj": "gated-gelu", "tie_word_embeddings": True},
    "t5-relu": {"model_type": "t5", "vocab_size": 128, "d_model": 32, "d_kv": 8, "d_ff": 48,
                "num_layers": 1, "num_heads": 2, "feed_forward_proj": "relu",
                "tie_word_embeddings": True},
}
ALL7 = ("q", "k", "v", "o", "gate", "up", "down")
CASES = [
    ("llama", ("q", "v"), 8), ("llama", ALL7, 4), ("mistral", ("q", "k", "v", "o"), 16),
    ("mixtral", ("q", "k", "v", "o"), 4), ("qwen2", ("q", "v"), 2), ("phi3", ALL7, 4),
    ("gemma2", ("q", "v", "down"), 4), ("gpt2", ("q",), 4), ("gpt2", ("o", "up"), 4),
    ("bert", ("q", "v"), 8), ("bert", ("dense",), 2), ("t5", ("q", "v"), 4),
    ("t5", ("q", "k", "v", "o", "gate", "up", "down"), 4), ("t5-relu", ("up", "down"), 2),
]


def _tiny_model(cfg):
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    kind = arch_from_config(cfg).kind
    auto = {"decoder": AutoModelForCausalLM, "encoder": AutoModel,
            "encoder-decoder": AutoModelForSeq2SeqLM}[kind]
    torch.manual_seed(0)
    return auto.from_config(build_config(cfg))


@pytest.mark.parametrize("family,targets,r", CASES)
def test_lora_trainable_equals_peft(family, targets, r):
    from peft import LoraConfig, get_peft_model

    cfg = TINY[family]
    a, pc = arch_from_config(cfg), count_params(cfg)
    model = _tiny_model(cfg)
    assert sum(p.numel() for p in model.parameters()) == pc.total
    leaves = sorted(lora_targets(a, pc, targets))
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=leaves))
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert lora_param_count(a, pc, targets, r) == trainable
    est = estimate(cfg, EstimateConfig(dtype="fp32", mode="lora", lora_r=r,
                                       lora_targets=targets, seq=16))
    assert est.params_trainable == trainable


def test_smollm2_qv_r8_matches_documented_peft_count():
    """MODELS.md: LoRA on q_proj/v_proj r=8 of SmolLM2-135M gives 460,800 trainable params:
    30 layers x 8 x ((576+576) + (576+192)) = 460,800."""
    from core.memory.catalog import catalog_config

    cfg = catalog_config("SmolLM2-135M")
    assert lora_param_count(arch_from_config(cfg), count_params(cfg), ("q", "v"), 8) == 460_800
