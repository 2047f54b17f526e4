"""core.training.copy: the model learning trains is the generator's base model, reloaded,
without the adapters the app has attached to the shared model."""

from __future__ import annotations

import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.generation import GenerationConfig
from core.settings import Settings
from core.training.copy import training_copy
from tests.feedback.conftest import make_adapter


def _logits(model, tokenizer):
    ids = tokenizer("a fixed probe sentence", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("after_answering", [False, True])
def test_copy_has_base_weights_and_no_adapter(folder_generator, tmp_path, after_answering):
    """With an adapter attached to the shared model (and also right after the fine-tuned modes
    answered with it), the copy is a plain trainable model with the base logits and no memory
    shared with the live model."""
    settings = Settings(data_dir=tmp_path / "data")
    make_adapter(folder_generator, settings, "app-lora")
    folder_generator.load_adapter("app-lora", AdapterRegistry.of(settings))
    shared = folder_generator.model
    if after_answering:
        folder_generator.generate("a probe", GenerationConfig(max_new_tokens=2),
                                  adapter="app-lora")

    model, tokenizer = training_copy(folder_generator)

    assert any(isinstance(m, BaseTunerLayer) for m in shared.modules())  # injected in place
    assert not any(isinstance(m, BaseTunerLayer) for m in model.modules())
    assert not hasattr(model, "peft_config")
    assert type(model) is type(shared) and model.dtype == shared.dtype
    assert all(p.requires_grad for p in model.parameters())
    live = {p.data_ptr() for p in shared.parameters()}
    assert not any(p.data_ptr() in live for p in model.parameters())
    assert torch.equal(_logits(model, tokenizer), _logits(shared, folder_generator.tokenizer))
    assert tokenizer is not folder_generator.tokenizer


def test_model_built_in_memory_is_refused(tiny_generator):
    with pytest.raises(UserError, match="built in memory"):
        training_copy(tiny_generator)


def test_every_lora_trainer_gets_its_model_through_the_one_copy(tiny_env, store,
                                                                folder_generator, monkeypatch):
    """Knowledge fine-tuning (from the generator setting) and feedback learning (from the live
    generator) both call :func:`training_copy`, and train what it returns."""
    import core.finetune.pipeline as pipeline
    import core.training.copy as copy_module
    from core.finetune.config import LoraSettings
    from core.finetune.pipeline import run_finetune
    from core.finetune.preference import LearnConfig, learn_from_feedback
    from tests.feedback.conftest import seed

    real, calls = copy_module.training_copy, []

    def spy(source, settings=None):
        model, tokenizer = real(source, settings)
        calls.append((source, model))
        return model, tokenizer

    monkeypatch.setattr(copy_module, "training_copy", spy)  # where feedback learning reads it
    monkeypatch.setattr(pipeline, "training_copy", spy)  # knowledge fine-tuning's import
    run_finetune(tiny_env, "mini", "copied", LoraSettings(epochs=1, batch_size=4))
    assert calls[-1][0] == tiny_env.generator_model
    seed(store)
    learn_from_feedback(store, folder_generator, tiny_env,
                        LearnConfig(adapter="fb-copied", max_steps=1, batch_size=2,
                                    min_ratings=4))
    assert calls[-1][0] is folder_generator and len(calls) == 2
    assert calls[-1][1] is not folder_generator.model
