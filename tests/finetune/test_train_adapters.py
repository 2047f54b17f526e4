"""LoRA on tiny models: training changes outputs, saved adapters reload to the same logits,
cancellation saves nothing, and switching adapters on a shared generator leaves base answers
bit-identical."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core.errors import UserError
from core.finetune import adapters
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample
from core.finetune.train import train_lora
from core.training.callbacks import TrainingHooks

FACT = "the lighthouse keeper of orbis island is named marta quill."
# A random 32-wide model cannot raise its logits through attention alone (RMSNorm caps the
# hidden state), so memorisation tests also adapt lm_head; the defaults stay q_proj/v_proj.
MODULES = ("q_proj", "v_proj", "lm_head")
SETTINGS = LoraSettings(rank=8, alpha=16, dropout=0.0, epochs=15, learning_rate=3e-2,
                        batch_size=2, max_length=64, target_modules=MODULES)


def _logits(model, tokenizer, text=FACT):
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits


def _train(model, tokenizer, settings=SETTINGS, **kwargs):
    return train_lora(model, tokenizer, [TrainExample("", FACT)] * 2, settings, **kwargs)


def test_lora_training_lowers_loss_and_changes_outputs(fresh_llama, tiny_tokenizer):
    before = _logits(fresh_llama(), tiny_tokenizer)
    steps = []
    result = _train(fresh_llama(), tiny_tokenizer, hooks=TrainingHooks(
        step=lambda s, t, loss: steps.append((s, t, loss))))
    assert result.steps == result.total_steps == 15 and len(result.losses) == 15
    assert steps[-1][:2] == (15, 15)
    assert result.losses[-1] < 0.5 * result.losses[0]  # memorised the sentence
    assert result.trainable_parameters > 0 and set(result.target_modules) == set(MODULES)
    after = _logits(result.model, tiny_tokenizer)
    assert not torch.allclose(before, after, atol=1e-3)


def test_saved_adapter_reloads_to_same_logits(fresh_llama, tiny_tokenizer, app_settings):
    from peft import PeftModel

    result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(epochs=3, rank=4))
    trained = _logits(result.model, tiny_tokenizer)
    folder = adapters.save_adapter(result.model, "Fact Memo", {"losses": result.losses},
                                   app_settings)
    assert folder.name == "fact-memo"
    assert {"adapter_config.json", "adapter_model.safetensors", "metadata.json"} <= {
        p.name for p in folder.iterdir()}
    reloaded = PeftModel.from_pretrained(fresh_llama(), str(folder)).eval()
    assert torch.allclose(trained, _logits(reloaded, tiny_tokenizer), atol=1e-6)
    assert not list(folder.parent.glob(".tmp-*"))  # no temp folder left behind


def test_cancellation_stops_before_next_step(fresh_llama, tiny_tokenizer):
    cancel = threading.Event()

    def on_step(step, total, loss):
        if step == 3:
            cancel.set()

    result = _train(fresh_llama(), tiny_tokenizer,
                    hooks=TrainingHooks(step=on_step, cancel=cancel))
    assert result.cancelled and result.steps == 3 and len(result.losses) == 3


def test_cancel_during_a_step_stops_before_the_next_micro_batch(fresh_llama, tiny_tokenizer):
    """batch 4 in micro-batches of 1: one step is 4 micro-batches. Cancelling after the 2nd
    stops before the 3rd, finishes no step and leaves the weights untouched (LoRA's B starts
    at zero, so the model still computes the base logits)."""
    cancel, micro, steps = threading.Event(), [], []

    def on_micro_batch(done, total):
        micro.append((done, total))
        if done == 2:
            cancel.set()

    result = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", FACT)] * 4,
                        LoraSettings(epochs=2, batch_size=4, micro_batch_size=1),
                        hooks=TrainingHooks(step=lambda *a: steps.append(a),
                                            micro_batch=on_micro_batch, cancel=cancel))
    assert micro == [(1, 8), (2, 8)] and steps == []
    assert result.cancelled and result.steps == 0 and result.micro_batches == 2
    assert torch.allclose(_logits(result.model, tiny_tokenizer),
                          _logits(fresh_llama(), tiny_tokenizer), atol=1e-6)


def test_micro_batches_give_the_loss_and_update_of_the_whole_batch(fresh_llama,
                                                                   tiny_tokenizer):
    """Each micro-batch's loss is weighted by its share of the batch's loss tokens, so
    accumulating 1-example micro-batches equals one 3-example pass (texts of unequal length,
    so padding and weighting both matter)."""
    texts = [FACT, "marta quill keeps the light.", "orbis island has one lighthouse and a bay."]
    runs = {}
    for micro in (1, 3):
        lora = LoraSettings(epochs=2, batch_size=3, micro_batch_size=micro, dropout=0.0,
                            learning_rate=1e-2, target_modules=MODULES)
        result = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", t) for t in texts],
                            lora)
        runs[micro] = (result.losses, _logits(result.model, tiny_tokenizer))
    assert runs[1][0] == pytest.approx(runs[3][0], rel=1e-4)
    assert torch.allclose(runs[1][1], runs[3][1], atol=1e-4)


def test_t5_lora_uses_q_v_and_trains(fresh_t5, tiny_tokenizer):
    example = TrainExample("who keeps the lighthouse?", "marta quill")
    result = train_lora(fresh_t5(), tiny_tokenizer, [example] * 2,
                        LoraSettings(epochs=20, learning_rate=1e-2, rank=4, dropout=0.0),
                        is_seq2seq=True)
    assert result.target_modules == ("q", "v")
    assert result.losses[-1] < result.losses[0]


def test_unknown_target_module_is_a_user_error(fresh_llama, tiny_tokenizer):
    with pytest.raises(UserError, match="c_attn"):
        _train(fresh_llama(), tiny_tokenizer, LoraSettings(target_modules=("c_attn",)))


@pytest.mark.parametrize(("name", "expected"), [
    ("orbis", "orbis"), ("Orbis V2", "orbis-v2"), ("a_b-c9", "a_b-c9"), ("x" * 64, "x" * 64),
])
def test_sanitise_accepts(name, expected):
    assert adapters.sanitise_name(name) == expected


@pytest.mark.parametrize("name", ["../etc", "a/b", "a\\b", "", "   ", "x" * 65, "é", ".hidden",
                                  "a.b"])
def test_sanitise_rejects(name):
    with pytest.raises(UserError, match="adapter name"):
        adapters.sanitise_name(name)


def test_registry_list_inspect_delete(fresh_llama, tiny_tokenizer, app_settings):
    result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(epochs=1))
    adapters.save_adapter(result.model, "one", {"base_model": "tiny", "losses": [2.0, 1.0],
                                                "settings": {"data_mode": "qa"}}, app_settings)
    with pytest.raises(UserError, match="exists"):
        adapters.save_adapter(result.model, "one", {}, app_settings)
    adapters.save_adapter(result.model, "one", {"losses": [3.0]}, app_settings, overwrite=True)
    # A folder written by another feature (no metadata.json) is listed too.
    foreign = adapters.adapters_root(app_settings) / "from-feedback"
    foreign.mkdir()
    (foreign / "adapter_config.json").write_text(json.dumps({"r": 8, "base_model_name_or_path":
                                                             "smol"}))
    (adapters.adapters_root(app_settings) / ".tmp-half").mkdir()  # ignored
    names = {row["name"]: row for row in adapters.list_adapters(app_settings)}
    assert set(names) == {"one", "from-feedback"}
    assert names["one"]["final_loss"] == 3.0 and names["from-feedback"]["base_model"] == "smol"
    info = adapters.inspect_adapter(app_settings, "one")
    assert info["metadata"]["losses"] == [3.0] and info["peft_config"]["r"] == 8
    assert info["files"]["adapter_model.safetensors"] > 0
    adapters.delete_adapter(app_settings, "one")
    assert [r["name"] for r in adapters.list_adapters(app_settings)] == ["from-feedback"]
    with pytest.raises(UserError, match="no adapter"):
        adapters.delete_adapter(app_settings, "one")


def test_adapter_view_switches_without_touching_base(fresh_llama, fresh_generator,
                                                     tiny_tokenizer, app_settings):
    from peft import PeftModel

    for name, epochs in (("a1", 3), ("a2", 6)):
        result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(
            epochs=epochs, learning_rate=3e-2, target_modules=MODULES))
        adapters.save_adapter(result.model, name, {}, app_settings)
    gen = fresh_generator()

    def base_logits():  # like every user of the shared model, hold its lock
        with gen.lock:
            return _logits(gen.model, tiny_tokenizer)

    base_before = base_logits()
    view1 = adapters.adapter_generator(gen, "a1", app_settings)
    view2 = adapters.adapter_generator(gen, "a2", app_settings)
    assert view1.lock is gen.lock
    assert torch.equal(base_before, base_logits())  # loading leaves the base untouched
    for name, view in (("a1", view1), ("a2", view2)):
        expected = _logits(PeftModel.from_pretrained(
            fresh_llama(), str(adapters.adapter_path(app_settings, name))).eval(), tiny_tokenizer)
        assert torch.allclose(_logits(view.model, tiny_tokenizer), expected, atol=1e-6)
        assert torch.equal(base_logits(), base_before)
    a1, a2 = _logits(view1.model, tiny_tokenizer), _logits(view2.model, tiny_tokenizer)
    assert not torch.allclose(a1, a2, atol=1e-4)
    # Generation through the view works, streamed and whole, and the base is unchanged after.
    from core.generation import GenerationConfig

    cfg = GenerationConfig(max_new_tokens=4)
    whole = view1.generate("the lighthouse keeper", cfg, chat=False).text
    streamed = "".join(view1.stream("the lighthouse keeper", cfg, chat=False))
    assert whole == streamed.strip()
    assert torch.equal(base_logits(), base_before)
    adapters.delete_adapter(app_settings, "a1")
    with pytest.raises(UserError, match="not loaded"):
        _logits(view1.model, tiny_tokenizer)
