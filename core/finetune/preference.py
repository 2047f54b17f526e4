"""Train a NEW LoRA adapter from collected feedback with TRL (KTO on thumbs, DPO on pairs).

KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization") learns
from unpaired desirable/undesirable labels, i.e. exactly thumbs up/down; DPO (Rafailov et al.
2023) needs (chosen, rejected) pairs, which :mod:`core.feedback.export` derives. The base model
is a fresh copy of the shared generator's base weights (:func:`core.training.copy.training_copy`:
never the adapters the app has loaded; the live app keeps serving while this trains);
optionally training continues from an existing adapter (``base_adapter``). The result goes into
the one adapter registry, :mod:`core.adapters` (``AdapterRegistry.save``: temp folder renamed to
``<data_dir>/adapters/<name>/``, standard PEFT files plus ``metadata.json`` with the feedback
snapshot and parent adapter), so the Fine-tune and Compare pages list it and a crash never
leaves a half-written adapter under a real name. The LoRA part is the one
:class:`core.training.lora.LoraSpec` (empty targets: peft's default for the architecture);
progress, live loss and cancel go through :class:`core.training.callbacks.TrainingHooks`.
Under a data-parallel launcher (``torchrun``/``accelerate launch``) ``batch_size`` stays the
global batch: each of N processes takes ``batch_size / N`` examples a step (TRL's data loader,
sharded by accelerate), and only the first process saves the adapter (the others wait for it).
Left out: the feedback store, exports and statistics (:mod:`core.feedback`), before/after
evaluation (:mod:`core.evaluation.versions`).

Example:
    >>> plan_training([], [], LearnConfig(adapter="v1"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    core.errors.UserError: too little feedback to learn from: 0 rated answers ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.feedback.export import Example, dpo_examples, kto_examples
from core.feedback.schema import OutputRecord, PreferenceRecord, utcnow
from core.names import check_name
from core.settings import Settings
from core.training.lora import LoraSpec
from core.training.precision import AutocastMixin, resolve_precision

if TYPE_CHECKING:
    from core.training.callbacks import TrainingHooks

METHODS = ("auto", "kto", "dpo")


@dataclass(frozen=True)
class LearnConfig:
    """What to train and how; every field is validated in ``__post_init__``."""

    adapter: str = field(metadata={"help": "Name of the new adapter folder."})
    method: str = field(default="auto", metadata={"help": "auto (KTO, else DPO) | kto | dpo."})
    max_steps: int = field(default=10, metadata={"help": "Optimizer steps."})
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW learning rate (LoRA)."})
    batch_size: int = field(default=4, metadata={"help": "Per-step batch (KTO needs >= 2)."})
    lora: LoraSpec = field(default_factory=lambda: LoraSpec(dropout=0.0), metadata={
        "help": "The new adapter's LoRA (rank 8, alpha 16, no dropout, peft's targets)."})
    beta: float = field(default=0.1, metadata={"help": "KTO/DPO beta (KL strength)."})
    max_length: int = field(default=512, metadata={"help": "Tokens per example at most."})
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations: less memory, ~30% slower."})
    min_ratings: int = field(default=8, metadata={"help": "KTO: rated answers needed."})
    min_per_label: int = field(default=2, metadata={"help": "KTO: ups and downs needed each."})
    min_pairs: int = field(default=4, metadata={"help": "DPO: preference pairs needed."})
    seed: int = field(default=0, metadata={"help": "Seed for LoRA init and data order."})
    precision: str = field(default="auto", metadata={
        "help": "auto (bf16 autocast where the device runs bf16 natively) | fp32 | bf16."})

    def __post_init__(self) -> None:
        check_name(self.adapter, "adapter")  # exactly as typed: no silent renaming
        if self.precision not in ("auto", "fp32", "bf16"):
            raise UserError(f"precision must be auto|fp32|bf16, got {self.precision!r}")
        if self.method not in METHODS:
            raise UserError(f"method must be one of {'|'.join(METHODS)}, got {self.method!r}")
        for name, low, high in (("max_steps", 1, 100_000), ("batch_size", 2, 1024),
                                ("max_length", 16, 32_768), ("min_ratings", 2, 1_000_000),
                                ("min_per_label", 1, 1_000_000), ("min_pairs", 1, 1_000_000)):
            if not low <= getattr(self, name) <= high:
                raise UserError(f"{name} must be {low}..{high}, got {getattr(self, name)}")
        if not 0 < self.learning_rate < 1:
            raise UserError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 < self.beta <= 10:
            raise UserError(f"beta must be in (0, 10], got {self.beta}")


@dataclass
class TrainingPlan:
    method: str
    examples: list[Example]
    counts: dict[str, int]


def kto_weights(n_up: int, n_down: int) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight) for imbalanced thumbs.

    The KTO paper (§4.2) and TRL's KTOConfig docs ask for
    desirable_weight·n_up / (undesirable_weight·n_down) in [1, 4/3]; we keep
    undesirable_weight = 1 and set desirable_weight = n_down / n_up, so the ratio is exactly 1.
    Example: 30 up, 10 down -> (0.333..., 1.0).
    """
    return n_down / n_up, 1.0


def plan_training(records: list[OutputRecord], prefs: list[PreferenceRecord],
                  config: LearnConfig) -> TrainingPlan:
    """Choose KTO or DPO for the data, or refuse saying how much more feedback is needed."""
    kto, dpo = kto_examples(records), dpo_examples(records, prefs)
    up = sum(e.row["label"] for e in kto)
    down = len(kto) - up
    counts = {"ratings": len(kto), "up": up, "down": down, "pairs": len(dpo)}
    kto_ok = len(kto) >= config.min_ratings and min(up, down) >= config.min_per_label
    dpo_ok = len(dpo) >= config.min_pairs
    if config.method in ("auto", "kto") and kto_ok:
        return TrainingPlan("kto", kto, counts)
    if config.method in ("auto", "dpo") and dpo_ok:
        return TrainingPlan("dpo", dpo, counts)
    need_kto = (f"KTO needs at least {config.min_ratings} rated answers with at least "
                f"{config.min_per_label} thumbs-up and {config.min_per_label} thumbs-down "
                f"({max(0, config.min_ratings - len(kto))} more ratings, "
                f"{max(0, config.min_per_label - up)} more up, "
                f"{max(0, config.min_per_label - down)} more down)")
    need_dpo = (f"DPO needs {config.min_pairs} preference pairs "
                f"({max(0, config.min_pairs - len(dpo))} more)")
    need = {"kto": need_kto, "dpo": need_dpo}.get(config.method, f"{need_kto}; or {need_dpo}")
    raise UserError(f"too little feedback to learn from: {len(kto)} rated answers ({up} up, "
                    f"{down} down), {len(dpo)} preference pairs. {need}.")


def snapshot(plan: TrainingPlan) -> dict:
    """Which records the adapter learned from, with a hash of exactly what it saw."""
    ids = sorted({i for e in plan.examples for i in e.output_ids})
    pref_ids = sorted({e.preference_id for e in plan.examples if e.preference_id is not None})
    payload = json.dumps([e.row for e in plan.examples], sort_keys=True, ensure_ascii=False)
    return {"output_ids": ids, "preference_ids": pref_ids, "counts": plan.counts,
            "examples": len(plan.examples), "method": plan.method,
            "sha256": hashlib.sha256(payload.encode("utf-8")).hexdigest()}


@dataclass
class LearnResult:
    adapter: str
    path: str
    method: str
    records: int
    train_loss: float
    losses: list[dict]
    seconds: float
    metadata: dict

    def to_cli(self) -> dict:
        return {"adapter": self.adapter, "records": self.records,
                "train_loss": round(self.train_loss, 6), "seconds": round(self.seconds, 2)}


def _rows(plan: TrainingPlan, chat: bool) -> list[dict]:
    """TRL's conversational format when the tokenizer has a chat template, else plain text."""
    if not chat:
        return [dict(e.row) for e in plan.examples]
    out = []
    for e in plan.examples:
        row = {"prompt": [{"role": "user", "content": e.row["prompt"]}]}
        for key in ("completion", "chosen", "rejected"):
            if key in e.row:
                row[key] = [{"role": "assistant", "content": e.row[key]}]
        if "label" in e.row:
            row["label"] = e.row["label"]
        out.append(row)
    return out


def trainable_tokenizer(tokenizer):
    """``tokenizer`` with the eos and pad tokens TRL needs (set in place; returned)."""
    if tokenizer.eos_token is None:  # BERT-style vocabularies: TRL appends eos to completions
        tokenizer.eos_token = tokenizer.sep_token or tokenizer.pad_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def prepare_model(generator, parent: Path | None):
    """A private trainable model (base weights, plus ``parent`` when given) and tokenizer."""
    from peft import PeftModel

    from core.training.copy import training_copy

    model, tokenizer = training_copy(generator)
    tokenizer = trainable_tokenizer(tokenizer)
    if parent is not None:
        model = PeftModel.from_pretrained(model, str(parent), is_trainable=True)
    return model, tokenizer


class CompletionScoringMixin:
    """For TRL's DPO/KTO trainers: the fused LM head scores only the completion tokens.

    TRL 1.16 projects every position through the vocabulary (prompt included, then masked)
    except on Triton devices, to keep tile shapes fixed for compilers; on a CPU in eager mode
    that only wastes time (a 150-token prompt, a 10-token answer: ~15x the LM-head work;
    22 -> 12 s a DPO step measured on 2 AVX2 cores). The log-probabilities are the same.
    """

    def compute_loss(self, *args, **kwargs):
        with _completion_positions_only():
            return super().compute_loss(*args, **kwargs)

    def compute_ref_log_probs(self, *args, **kwargs):  # DPO's, also when precomputed
        # in the loss's precision (AutocastMixin), so at step 1 the policy equals the reference
        with _completion_positions_only(), self.autocast_smart_context_manager():
            return super().compute_ref_log_probs(*args, **kwargs)


@contextlib.contextmanager
def _completion_positions_only():
    import trl.trainer.utils as trl_utils

    chosen = trl_utils._use_triton
    trl_utils._use_triton = lambda device: True  # "compact": the labelled positions only
    try:
        yield
    finally:
        trl_utils._use_triton = chosen


def preference_trainer(method: str, model, tokenizer, dataset, *, output_dir, max_steps: int,
                       batch_size: int, learning_rate: float, beta: float, seed: int,
                       device: str, max_length: int, peft_config=None, callbacks=(),
                       precision: str = "fp32", counts: dict | None = None,
                       gradient_checkpointing: bool = False, chat: bool = True):
    """A quiet TRL ``KTOTrainer`` (thumbs) or ``DPOTrainer`` (pairs) over ``dataset``, with
    bf16 autocast around the loss when ``precision == "bf16"``
    (:class:`core.training.precision.AutocastMixin`; fp32 master weights).

    KTO weighs thumbs by :func:`kto_weights` from ``counts`` ("up", "down"). ``chat`` is only
    recorded; TRL reads the rows' format (conversational or plain text) itself.
    """
    from core.training.trainer import quiet, training_args  # imports transformers

    # bf16/fp16 False: TRL's configs default to bf16=True, which makes accelerate wrap the
    # model's forward in bf16 autocast for good (emulated, ~20x slower on a CPU without
    # native bf16, and still bf16 after training); ``precision`` alone decides, as above.
    common = dict(max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
                  seed=seed, device=device, beta=beta, max_length=max_length,
                  gradient_checkpointing=gradient_checkpointing, bf16=False, fp16=False)
    if method == "kto":
        from trl import KTOConfig, KTOTrainer

        dw, uw = kto_weights((counts or {})["up"], (counts or {})["down"])
        args = training_args(Path(output_dir) / "trainer", args_class=KTOConfig, **common,
                             desirable_weight=dw, undesirable_weight=uw)
        _share_batch(args, batch_size, at_least=2)   # KTO's KL term needs 2 per process
        cls = type("AutocastKTOTrainer", (CompletionScoringMixin, AutocastMixin, KTOTrainer),
                   {"precision": precision})  # set before DPO precomputes
    elif method == "dpo":
        from trl import DPOConfig, DPOTrainer

        # The reference is the base model (adapter off, no dropout): its log-probabilities
        # are computed once before training, not again in every epoch (exact, and a third
        # of a step's forward work on a CPU).
        args = training_args(Path(output_dir) / "trainer", args_class=DPOConfig, **common,
                             precompute_ref_log_probs=True)
        _share_batch(args, batch_size, at_least=1)
        # under a launcher TRL writes the precomputed column to a cache file only the first
        # process can see (an in-memory dataset's is per process): compute it in each step
        args.precompute_ref_log_probs = args.world_size == 1
        cls = type("AutocastDPOTrainer", (CompletionScoringMixin, AutocastMixin, DPOTrainer),
                   {"precision": precision})  # set before DPO precomputes
    else:
        raise UserError(f"method must be kto or dpo, got {method!r}")
    trainer = cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                  peft_config=peft_config, callbacks=list(callbacks))
    return quiet(trainer)


def learn_from_feedback(store, generator, settings: Settings, config: LearnConfig, *,
                        base_adapter: str | None = None,
                        hooks: TrainingHooks | None = None) -> LearnResult:
    """Train adapter ``config.adapter`` on the store's feedback; returns losses and metadata.

    ``hooks.step(step, max_steps, loss)`` gets every logged step (without a step hook,
    ``hooks.progress`` gets a line per step). Setting ``hooks.cancel`` stops training after
    the current step and saves nothing (UserError saying how far it got).
    """
    from core.training.callbacks import HooksCallback, TrainingHooks

    plan = plan_training(store.list_outputs(rated_only=True), store.list_preferences(), config)
    registry = AdapterRegistry.of(settings)
    root = registry.root
    target = registry.path(config.adapter)
    if target.exists():
        raise UserError(f"adapter {config.adapter!r} already exists in {root}; choose a new name")
    parent = registry.require(base_adapter) if base_adapter else None
    hooks = hooks or TrainingHooks()
    hooks.say(0.0, f"preparing {plan.method.upper()} on {len(plan.examples)} examples")

    from datasets import Dataset, disable_progress_bars

    from core.training.trainer import save_once

    disable_progress_bars()

    start = time.perf_counter()
    device = str(getattr(generator, "device", "cpu"))
    precision = resolve_precision(config.precision, device.split(":")[0])
    model, tokenizer = prepare_model(generator, parent)
    chat = bool(getattr(tokenizer, "chat_template", None))
    dataset = Dataset.from_list(_rows(plan, chat))
    peft_config = None if parent else config.lora.peft_config(model, task_type="CAUSAL_LM")
    callback = HooksCallback(hooks)

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{config.adapter}-", dir=root))
    try:
        trainer = preference_trainer(
            plan.method, model, tokenizer, dataset, output_dir=work,
            max_steps=config.max_steps, batch_size=config.batch_size,
            learning_rate=config.learning_rate, beta=config.beta, seed=config.seed,
            device=device, max_length=config.max_length, peft_config=peft_config,
            callbacks=[callback], precision=precision, counts=plan.counts,
            gradient_checkpointing=config.gradient_checkpointing, chat=chat)
        train_loss = float(trainer.train().training_loss)
        if hooks.cancelled:
            raise UserError(f"learning cancelled after {trainer.state.global_step} of "
                            f"{config.max_steps} steps; no adapter was saved")
        seconds = time.perf_counter() - start
        losses = [{"step": step, "loss": loss} for step, loss in callback.losses]
        targets = (sorted(peft_config.target_modules) if peft_config is not None
                   else list(config.lora.target_modules))  # a parent's adapter keeps its own
        metadata = _metadata(config, plan, generator, settings, base_adapter, losses,
                             train_loss, seconds, targets)
        def save() -> Path:
            try:  # the registry writes atomically: never a half-written adapter under the name
                return registry.save(trainer.model, config.adapter, metadata)
            except OSError as exc:
                raise UserError(f"could not create adapter {config.adapter!r}: {exc}") from exc

        target = save_once(save) or target  # under a launcher the first process writes it
    finally:
        shutil.rmtree(work, ignore_errors=True)
    hooks.say(1.0, f"saved adapter {config.adapter}")
    return LearnResult(config.adapter, str(target), plan.method, len(plan.examples), train_loss,
                       losses, seconds, metadata)


def _share_batch(args, batch_size: int, *, at_least: int) -> None:
    """Under a launcher, make ``batch_size`` the global batch: ``batch_size / N`` per process
    (a UserError when it does not divide or leaves fewer than ``at_least`` each)."""
    world = args.world_size
    if world == 1:
        return
    if batch_size % world or batch_size // world < at_least:
        raise UserError(f"batch_size {batch_size} must be a multiple of the {world} processes "
                        f"with at least {at_least} per process")
    args.per_device_train_batch_size = batch_size // world


def _metadata(config, plan, generator, settings, base_adapter, losses, train_loss, seconds,
              targets):
    import peft
    import transformers
    import trl

    parent_meta = AdapterRegistry.of(settings).metadata(base_adapter) if base_adapter else {}
    return {
        "adapter": config.adapter, "id": uuid.uuid4().hex, "created_at": utcnow().isoformat(),
        "kind": "feedback", "source": "feedback", "method": plan.method,
        "base_model": getattr(generator, "model_id", None),
        "parent_adapter": base_adapter,
        "parent_feedback_sha256": parent_meta.get("feedback", {}).get("sha256"),
        "feedback": snapshot(plan),
        "settings": {**asdict(config), "lora": {**asdict(config.lora),
                                                 "target_modules": targets}},
        "losses": losses, "train_loss": train_loss, "seconds": round(seconds, 3),
        "versions": {"trl": trl.__version__, "peft": peft.__version__,
                     "transformers": transformers.__version__},
    }
