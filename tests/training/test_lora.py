"""The one LoRA spec: empty targets are peft's own default for the architecture (checked by
letting peft resolve ``target_modules=None`` on tiny Llama and BERT models), explicit targets
win, and bad values are named."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.training.lora import LoraSpec, default_targets


def _tiny(kind: str):
    """The suite's tiny Llama / BERT classifier (tests.tiny_models) with a 64-token vocabulary."""
    from tests.tiny_models import tiny_model

    if kind == "llama":
        return tiny_model("llama", vocab_size=64), "CAUSAL_LM"
    return tiny_model("bert-cls", vocab_size=64), "SEQ_CLS"


@pytest.mark.parametrize(("kind", "expected"), [("llama", {"q_proj", "v_proj"}),
                                                ("bert", {"query", "value"})])
def test_empty_targets_are_peft_defaults(kind, expected):
    from peft import LoraConfig, get_peft_model

    model, task = _tiny(kind)
    ours = LoraSpec().peft_config(model, task_type=task)
    peft_own = get_peft_model(_tiny(kind)[0], LoraConfig(target_modules=None, task_type=task))
    assert set(ours.target_modules) == set(peft_own.peft_config["default"].target_modules)
    assert set(ours.target_modules) == expected == set(default_targets(kind))


def test_explicit_targets_win_and_unknown_architectures_must_name_them():
    assert LoraSpec(target_modules=("k_proj",)).modules_for("llama") == ("k_proj",)
    assert default_targets("something-new") == ()
    model, task = _tiny("llama")
    model.config.model_type = "something-new"
    with pytest.raises(UserError, match="no default LoRA target modules for 'something-new'"):
        LoraSpec().peft_config(model, task_type=task)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"rank": 0}, "rank must be 1..256, got 0"), ({"alpha": 2000}, "alpha must be 1..1024"),
    ({"dropout": 1.0}, "dropout must be in \\[0, 1\\), got 1.0"),
    ({"target_modules": ("q proj",)}, "'q proj'"),
])
def test_bad_values_are_named(kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        LoraSpec(**kwargs)


def test_fields_carry_help():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(LoraSpec))
