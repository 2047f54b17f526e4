"""LoRA settings: validation names the bad value; empty target modules are peft's default for
the architecture (an architecture peft does not know has none: name them)."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.finetune.config import LoraSettings
from core.training.lora import default_targets


@pytest.mark.parametrize(("model_type", "modules"), [
    ("llama", ("q_proj", "v_proj")), ("mistral", ("q_proj", "v_proj")),
    ("qwen2", ("q_proj", "v_proj")), ("gpt2", ("c_attn",)), ("t5", ("q", "v")),
    ("bert", ("query", "value")), ("something-new", ()),
])
def test_default_target_modules_per_architecture(model_type, modules):
    assert default_targets(model_type) == modules
    assert LoraSettings(target_modules=()).modules_for(model_type) == modules
    assert LoraSettings().modules_for(model_type) == ("all-linear",)  # knowledge default


def test_all_linear_adapts_attention_and_mlp(fresh_llama):
    from peft import get_peft_model

    config = LoraSettings().peft_config(fresh_llama(), task_type="CAUSAL_LM")
    model = get_peft_model(fresh_llama(), config)
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters()
               if "lora_A" in n}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                       "down_proj"}  # every linear layer, not the output head
    with pytest.raises(UserError, match="stands alone"):
        LoraSettings(target_modules=("all-linear", "q_proj"))


def test_explicit_target_modules_win():
    assert LoraSettings(target_modules=("k_proj",)).modules_for("llama") == ("k_proj",)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"rank": 0}, "rank must be 1..256, got 0"),
    ({"alpha": 0}, "alpha"),
    ({"dropout": 1.0}, "dropout"),
    ({"epochs": -1}, "epochs must be 0..100"),
    ({"minutes": 0.0}, "minutes must be 0.25..1440"),
    ({"precision": "fp8"}, "precision must be one of"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"max_length": 8}, "max_length must be 16..8192, got 8"),
    ({"data_mode": "books"}, "'books'"),
    ({"target_modules": ("q proj",)}, "'q proj'"),
])
def test_bad_values_are_named(kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        LoraSettings(**kwargs)


def test_scaling_and_round_trip():
    """alpha / r = 32 / 8 = 4.0; to_dict/from_dict keep every field."""
    s = LoraSettings(rank=8, alpha=32, target_modules=("q_proj",), data_mode="qa")
    assert s.scaling == 4.0
    assert LoraSettings.from_dict(s.to_dict()) == s
