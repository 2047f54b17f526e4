"""LoRA on tiny models: training changes outputs, saved adapters reload to the same logits,
cancellation saves nothing, and switching adapters on a shared generator leaves base answers
bit-identical."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample
from core.finetune.train import train_lora
from core.names import suggest_name
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
    folder = AdapterRegistry.of(app_settings).save(result.model, "Fact Memo",
                                                   {"losses": result.losses})
    assert folder.name == "fact-memo"
    assert {"adapter_config.json", "adapter_model.safetensors", "metadata.json"} <= {
        p.name for p in folder.iterdir()}
    reloaded = PeftModel.from_pretrained(fresh_llama(), str(folder)).eval()
    assert torch.allclose(trained, _logits(reloaded, tiny_tokenizer), atol=1e-6)
    assert not list(folder.parent.glob(".*"))  # no temp folder left behind


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
                        LoraSettings(epochs=2, batch_size=4, micro_batch_size=1,
                                     packing=False),
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
                        LoraSettings(epochs=20, learning_rate=1e-2, rank=4, dropout=0.0,
                                     target_modules=()),
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
    assert suggest_name(name) == expected


@pytest.mark.parametrize("name", ["../etc", "a/b", "a\\b", "", "   ", "x" * 65, "é", ".hidden",
                                  "a.b"])
def test_sanitise_rejects(name):
    with pytest.raises(UserError, match="adapter name"):
        suggest_name(name)


def test_registry_list_inspect_delete(fresh_llama, tiny_tokenizer, app_settings):
    result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(epochs=1))
    AdapterRegistry.of(app_settings).save(result.model, "one", {
        "base_model": "tiny", "losses": [2.0, 1.0], "settings": {"data_mode": "qa"}})
    with pytest.raises(UserError, match="exists"):
        AdapterRegistry.of(app_settings).save(result.model, "one", {})
    AdapterRegistry.of(app_settings).save(result.model, "one", {"losses": [3.0]}, overwrite=True)
    # A folder written by another feature (no metadata.json) is listed too.
    foreign = AdapterRegistry.of(app_settings).root / "from-feedback"
    foreign.mkdir()
    (foreign / "adapter_config.json").write_text(json.dumps({"r": 8, "base_model_name_or_path":
                                                             "smol"}))
    (AdapterRegistry.of(app_settings).root / ".tmp-half").mkdir()  # ignored
    names = {row["name"]: row for row in AdapterRegistry.of(app_settings).list()}
    assert set(names) == {"one", "from-feedback"}
    assert names["one"]["final_loss"] == 3.0 and names["from-feedback"]["base_model"] == "smol"
    info = AdapterRegistry.of(app_settings).inspect("one")
    assert info["metadata"]["losses"] == [3.0] and info["peft_config"]["r"] == 8
    assert info["files"]["adapter_model.safetensors"] > 0
    AdapterRegistry.of(app_settings).delete("one")
    assert [r["name"] for r in AdapterRegistry.of(app_settings).list()] == ["from-feedback"]
    with pytest.raises(UserError, match="no adapter"):
        AdapterRegistry.of(app_settings).delete("one")


def test_adapter_switch_leaves_base_untouched(fresh_llama, fresh_generator, tiny_tokenizer,
                                              app_settings):
    from peft import PeftModel

    registry = AdapterRegistry.of(app_settings)
    for name, epochs in (("a1", 3), ("a2", 6)):
        result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(
            epochs=epochs, learning_rate=3e-2, target_modules=MODULES))
        registry.save(result.model, name, {})
    gen = fresh_generator()

    def base_logits():  # like every user of the shared model, hold its lock
        with gen.lock:
            return _logits(gen.model, tiny_tokenizer)

    def adapter_logits(name):
        with gen.adapter_model(name) as model:
            return _logits(model, tiny_tokenizer)

    base_before = base_logits()
    gen.load_adapter("a1", registry)
    gen.load_adapter("a2", registry)
    with gen.adapter_model("a1"):  # an adapter call holds the generator's own lock
        other = threading.Thread(target=lambda: held.append(not gen.lock.acquire(blocking=False)))
        held: list[bool] = []
        other.start()
        other.join()
    assert held == [True]
    assert torch.equal(base_before, base_logits())  # loading leaves the base untouched
    for name in ("a1", "a2"):
        expected = _logits(PeftModel.from_pretrained(
            fresh_llama(), str(registry.path(name))).eval(), tiny_tokenizer)
        assert torch.allclose(adapter_logits(name), expected, atol=1e-6)
        assert torch.equal(base_logits(), base_before)
    a1, a2 = adapter_logits("a1"), adapter_logits("a2")
    assert not torch.allclose(a1, a2, atol=1e-4)
    # Generation with an adapter works, streamed and whole, and the base is unchanged after.
    from core.generation import GenerationConfig

    cfg = GenerationConfig(max_new_tokens=4)
    whole = gen.generate("the lighthouse keeper", cfg, chat=False, adapter="a1").text
    streamed = "".join(gen.stream("the lighthouse keeper", cfg, chat=False, adapter="a1"))
    assert whole == streamed.strip()
    assert torch.equal(base_logits(), base_before)
    registry.delete("a1")  # deleting drops it from the generator that loaded it
    assert gen.loaded_adapters == ["a2"]
    with pytest.raises(UserError, match="not loaded"):
        adapter_logits("a1")


def test_generator_loads_from_its_registry_on_first_use_and_reloads_a_retrained_one(
        fresh_llama, fresh_generator, tiny_tokenizer, app_settings):
    from peft import PeftModel

    from core.generation import GenerationConfig

    registry = AdapterRegistry.of(app_settings)
    gen = fresh_generator()
    gen.adapters = registry  # as core.loaders.load_generator builds it
    cfg = GenerationConfig(max_new_tokens=3)
    for epochs in (2, 5):  # the second save replaces the first under the same name
        result = _train(fresh_llama(), tiny_tokenizer, LoraSettings(
            epochs=epochs, learning_rate=3e-2, target_modules=MODULES))
        registry.save(result.model, "memo", {"epochs": epochs}, overwrite=True)
        gen.generate("the lighthouse keeper", cfg, chat=False, adapter="memo")
        peft_model = gen.load_adapter("memo")
        with gen.adapter_model("memo") as model:
            got = _logits(model, tiny_tokenizer)
        assert gen.loaded_adapters == ["memo"] and list(peft_model.peft_config) == ["memo"]
        expected = _logits(PeftModel.from_pretrained(fresh_llama(), str(registry.path("memo")))
                           .eval(), tiny_tokenizer)
        assert torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(UserError, match="no adapter named 'ghost'"):
        gen.generate("x", cfg, adapter="ghost")
