"""Learning from feedback on a tiny Llama: KTO and DPO (continuing from the KTO adapter) run a
few steps and write PEFT adapters that load; too little feedback is refused with numbers."""

from __future__ import annotations

import copy
import json
import math

import pytest
from safetensors.torch import load_file

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.finetune.preference import LearnConfig, kto_weights, learn_from_feedback, plan_training
from core.settings import Settings
from core.training.callbacks import TrainingHooks
from tests.feedback.conftest import seed


def test_kto_weights_balance_the_labels():
    """30 up, 10 down: desirable weight 10/30 so λD·nD / (λU·nU) = 1 (KTO paper's [1, 4/3])."""
    dw, uw = kto_weights(30, 10)
    assert dw * 30 / (uw * 10) == pytest.approx(1.0)


@pytest.mark.parametrize(("method", "message"), [
    ("auto", "0 rated answers (0 up, 0 down), 0 preference pairs. KTO needs at least 8 rated "
             "answers with at least 2 thumbs-up and 2 thumbs-down (8 more ratings, 2 more up, "
             "2 more down); or DPO needs 4 preference pairs (4 more)"),
    ("dpo", "DPO needs 4 preference pairs (4 more)"),
])
def test_too_little_feedback_is_refused_with_numbers(method, message):
    with pytest.raises(UserError) as info:
        plan_training([], [], LearnConfig(adapter="v1", method=method))
    assert message in str(info.value)


def test_plan_prefers_kto_then_dpo(store):
    """Seed: 6 rated (4 up, 2 down), 2 pairs. Defaults need 8 ratings, so auto falls to DPO
    only if pairs suffice (min_pairs=2); with min_ratings=6 auto picks KTO."""
    seed(store)
    recs, prefs = store.list_outputs(rated_only=True), store.list_preferences()
    assert plan_training(recs, prefs, LearnConfig(adapter="a", min_pairs=2)).method == "dpo"
    assert plan_training(recs, prefs, LearnConfig(adapter="a", min_ratings=6)).method == "kto"
    with pytest.raises(UserError, match="1 more ratings"):
        plan_training(recs, prefs, LearnConfig(adapter="a", method="kto", min_ratings=7))


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "sp ace"])
def test_unsafe_adapter_names_refused(name):
    with pytest.raises(UserError, match="adapter name must be"):
        LearnConfig(adapter=name)


def _lora_b_nonzero(path) -> bool:
    weights = load_file(str(path / "adapter_model.safetensors"))
    return any("lora_B" in k and v.abs().sum() > 0 for k, v in weights.items())


def test_kto_then_dpo_write_loadable_adapters(store, folder_generator, tmp_path):
    from peft import PeftModel

    ids = seed(store)
    settings = Settings(data_dir=tmp_path / "data")
    before = {k: v.clone() for k, v in folder_generator.model.state_dict().items()}
    seen: list[tuple[int, float]] = []
    kto = learn_from_feedback(
        store, folder_generator, settings,
        LearnConfig(adapter="fb-kto", max_steps=2, batch_size=2, min_ratings=4),
        hooks=TrainingHooks(step=lambda step, total, loss: seen.append((step, loss))))
    assert kto.method == "kto" and kto.records == 6
    assert [s for s, _ in seen] == [1, 2] and kto.train_loss > 0
    assert _lora_b_nonzero(settings.data_dir / "adapters" / "fb-kto")  # it actually trained
    meta = json.loads((settings.data_dir / "adapters" / "fb-kto" / "metadata.json").read_text())
    assert meta["feedback"]["output_ids"] == sorted(
        ids[k] for k in ("q1_rag", "q1_base", "q1_ft", "q2_rag", "q2_base", "q3"))
    assert meta["feedback"]["counts"] == {"ratings": 6, "up": 4, "down": 2, "pairs": 2}
    assert meta["settings"]["max_steps"] == 2 and meta["method"] == "kto"
    assert len(meta["feedback"]["sha256"]) == 64 and meta["base_model"] == "tiny-llama"
    # the shared model is untouched (training used a private copy)
    after = folder_generator.model.state_dict()
    assert after.keys() == before.keys()
    assert all((after[k] == before[k]).all() for k in before)

    dpo = learn_from_feedback(
        store, folder_generator, settings,
        LearnConfig(adapter="fb-dpo", method="dpo", max_steps=2, batch_size=2, min_pairs=2),
        base_adapter="fb-kto")
    assert (dpo.method, dpo.records) == ("dpo", 2)
    assert dpo.metadata["parent_adapter"] == "fb-kto"
    listed = {a["name"]: a for a in AdapterRegistry.of(settings).list()}  # Fine-tune/Compare
    assert (listed["fb-dpo"]["source"], listed["fb-dpo"]["parent_adapter"]) == ("feedback",
                                                                                 "fb-kto")
    assert dpo.metadata["parent_feedback_sha256"] == meta["feedback"]["sha256"]
    names = sorted(a["name"] for a in AdapterRegistry.of(settings).list())
    assert names == ["fb-dpo", "fb-kto"]  # no temp folders left behind
    assert not [p for p in (settings.data_dir / "adapters").iterdir() if p.name.startswith(".")]
    loaded = PeftModel.from_pretrained(copy.deepcopy(folder_generator.model), dpo.path)
    assert loaded.peft_config["default"].r == 8

    with pytest.raises(UserError, match="already exists"):
        learn_from_feedback(store, folder_generator, settings,
                            LearnConfig(adapter="fb-kto", min_ratings=4))
    with pytest.raises(UserError, match=r"no adapter named 'nope'.*available: fb-dpo, fb-kto"):
        learn_from_feedback(store, folder_generator, settings,
                            LearnConfig(adapter="fb-3", min_ratings=4), base_adapter="nope")


def _probe(generator, adapter: str):
    """(base logits, logits with ``adapter`` on) of the shared generator for a fixed input."""
    import torch

    ids = generator.tokenizer("what is low rank adaptation", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        base = generator.model(input_ids=ids).logits.clone()
        with generator.adapter_model(adapter) as model:
            tuned = model(input_ids=ids).logits.clone()
    return base, tuned


@pytest.mark.parametrize(("method", "parent"), [("kto", None), ("dpo", "app-lora")])
def test_learning_works_after_the_app_loaded_an_adapter(store, folder_generator, tmp_path,
                                                        method, parent):
    """The compare page attaches adapters to the shared model (LoRA layers injected in place);
    learning must still train a clean copy, from the base or from a loaded adapter, and leave
    the shared model, its base answers and its loaded adapters exactly as they were."""
    import math

    import torch

    from tests.feedback.conftest import make_adapter

    seed(store)
    settings = Settings(data_dir=tmp_path / "data")
    make_adapter(folder_generator, settings, "app-lora")
    # as the compare page does
    shared = folder_generator.load_adapter("app-lora", AdapterRegistry.of(settings))
    base_before, tuned_before = _probe(folder_generator, "app-lora")
    assert not torch.equal(base_before, tuned_before)  # the loaded adapter does something

    result = learn_from_feedback(
        store, folder_generator, settings,
        LearnConfig(adapter="fb-new", method=method, max_steps=2, batch_size=2,
                    min_ratings=4, min_pairs=2, learning_rate=1e-2),
        base_adapter=parent)

    assert result.method == method and math.isfinite(result.train_loss)
    assert [row["step"] for row in result.losses] == [1, 2]
    assert all(math.isfinite(row["loss"]) for row in result.losses)
    saved = load_file(str(settings.data_dir / "adapters" / "fb-new" / "adapter_model.safetensors"))
    if parent is None:  # PEFT starts B at zero: non-zero B means it trained
        assert any("lora_B" in k and v.abs().sum() > 0 for k, v in saved.items())
    else:  # continued from the loaded adapter: same tensors, new values
        start = load_file(str(settings.data_dir / "adapters" / parent
                              / "adapter_model.safetensors"))
        assert saved.keys() == start.keys()
        assert any(not torch.equal(saved[k], start[k]) for k in start)
    base_after, tuned_after = _probe(folder_generator, "app-lora")
    assert torch.equal(base_before, base_after) and torch.equal(tuned_before, tuned_after)
    assert list(shared.peft_config) == ["app-lora"]  # no adapter added to the shared model
    assert shared.base_model.model is folder_generator.model
    assert not any(p.requires_grad for p in folder_generator.model.parameters())


def test_cancel_stops_training_and_saves_nothing(store, folder_generator, tmp_path):
    """Cancel pressed while step 1 is reported: training stops there (of 5 steps), the error
    says so, and neither the adapter nor a temp folder is left in the registry."""
    import threading

    seed(store)
    settings = Settings(data_dir=tmp_path / "data")
    cancel = threading.Event()
    with pytest.raises(UserError, match="cancelled after 1 of 5 steps; no adapter was saved"):
        learn_from_feedback(store, folder_generator, settings,
                            LearnConfig(adapter="fb-x", max_steps=5, batch_size=2, min_ratings=4),
                            hooks=TrainingHooks(step=lambda step, total, loss: cancel.set(),
                                                cancel=cancel))
    assert list((settings.data_dir / "adapters").iterdir()) == []


def test_under_a_launcher_batch_size_is_the_global_batch_split_per_process():
    """What each of N processes takes a step (TRL's loader is sharded by accelerate)."""
    from types import SimpleNamespace

    from core.finetune.preference import _share_batch

    args = SimpleNamespace(world_size=2, per_device_train_batch_size=4)
    _share_batch(args, 4, at_least=2)
    assert args.per_device_train_batch_size == 2
    alone = SimpleNamespace(world_size=1, per_device_train_batch_size=3)
    _share_batch(alone, 3, at_least=2)
    assert alone.per_device_train_batch_size == 3  # one process: unchanged
    with pytest.raises(UserError, match="batch_size 6 must be a multiple of the 4 processes"):
        _share_batch(SimpleNamespace(world_size=4, per_device_train_batch_size=6), 6, at_least=1)
    with pytest.raises(UserError, match="at least 2 per process"):  # KTO's KL needs a pair
        _share_batch(SimpleNamespace(world_size=2, per_device_train_batch_size=2), 2, at_least=2)


def _tiny_trainer(generator, tmp_path, method: str, precision: str, *, prompt: str = "q",
                  max_length: int = 64):
    """preference_trainer over 4 rows (DPO pairs or KTO thumbs) on the tiny model, 1 step."""
    from datasets import Dataset

    from core.finetune.preference import preference_trainer, prepare_model

    model, tokenizer = prepare_model(generator, None)
    rows = ([{"prompt": prompt, "chosen": "a", "rejected": "b"}] * 2 if method == "dpo" else
            [{"prompt": prompt, "completion": c, "label": lab} for c, lab in (("a", True),
                                                                              ("b", False))] * 2)
    return preference_trainer(
        method, model, tokenizer, Dataset.from_list(rows), output_dir=tmp_path, max_steps=1,
        batch_size=2, learning_rate=1e-3, beta=0.1, seed=0, device="cpu", max_length=max_length,
        peft_config=LearnConfig(adapter="x").lora.peft_config(model, task_type="CAUSAL_LM"),
        counts={"up": 2, "down": 2}, precision=precision)


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_preference_trainer_runs_the_loss_under_bf16_autocast_when_asked(
        folder_generator, tmp_path, method):
    """The TRL trainers get the training stack's AutocastMixin: bf16 autocast around the loss
    only (fp32 master weights), nothing for fp32."""
    import torch

    from core.training.precision import AutocastMixin

    trainer = _tiny_trainer(folder_generator, tmp_path, method, "bf16")
    assert isinstance(trainer, AutocastMixin)
    ctx = trainer.autocast_smart_context_manager()
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters() if p.requires_grad)
    if method == "dpo":  # the precomputed reference ran under the same autocast as the loss
        batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
        trainer.model.eval()
        with torch.no_grad(), trainer.autocast_smart_context_manager():  # as training_step
            assert abs(trainer.compute_loss(trainer.model, batch).item() - math.log(2)) < 1e-6
    trainer.precision = "fp32"
    assert not isinstance(trainer.autocast_smart_context_manager(), torch.autocast)


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_fp32_preference_training_multiplies_in_fp32(folder_generator, tmp_path, method):
    """precision fp32 trains in fp32: TRL's configs default to bf16=True, which would make
    accelerate run every matmul in (on most CPUs emulated) bf16, during and after training."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    trainer = _tiny_trainer(folder_generator, tmp_path, method, "fp32")
    assert not trainer.args.bf16 and not trainer.args.fp16
    matmuls = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default,
               torch.ops.aten.bmm.default}
    dtypes: set = set()

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in matmuls:
                dtypes.update(a.dtype for a in args if isinstance(a, torch.Tensor))
            return func(*args, **(kwargs or {}))

    with Record():
        trainer.train()
        trainer.model(input_ids=torch.tensor([[1, 2, 3]]))  # and after training
    assert dtypes == {torch.float32}


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_preference_loss_scores_only_the_completion_tokens(folder_generator, tmp_path,
                                                           monkeypatch, method):
    """The fused LM head projects the labelled (completion) positions only, not the prompt,
    and the loss is the one TRL computes over every position."""
    import torch
    import trl.trainer.utils as trl_utils

    from core.finetune.preference import CompletionScoringMixin

    prompt = "a long prompt with many words before the short answer " * 3
    trainer = _tiny_trainer(folder_generator, tmp_path, method, "fp32", prompt=prompt,
                            max_length=128)
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    rows_scored: list[int] = []
    chunked = trl_utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden, *args):
            rows_scored.append(hidden.shape[0])
            return chunked.apply(hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Spy)
    trainer.model.eval()  # no dropout: the two losses must match
    with torch.no_grad():
        compact = trainer.compute_loss(trainer.model, batch)
        compact_rows, rows_scored[:] = sum(rows_scored), []
        full = super(CompletionScoringMixin, trainer).compute_loss(trainer.model, batch)
    assert trl_utils._use_triton(torch.device("cpu")) is False  # restored after each call
    assert torch.allclose(compact, full, atol=1e-5)
    assert compact_rows < sum(rows_scored) / 2  # the prompt positions were skipped
    if method == "dpo":  # reference log-probs precomputed, and equal to the untrained policy's
        assert "ref_chosen_logps" in batch
        assert abs(compact.item() - math.log(2)) < 1e-5


def test_precision_is_validated():
    with pytest.raises(UserError, match="precision must be auto"):
        LearnConfig(adapter="x", precision="fp16")
