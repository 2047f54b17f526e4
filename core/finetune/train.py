"""Knowledge fine-tuning's trainer: a LoRA adapter on a model instance, on the one stack.

Train on a model of its own (:func:`core.training.copy.training_copy`), never on the shared
:class:`core.generation.Generator`'s model: training flips dropout on and holds the CPU for
minutes, and concurrent answers must not see half-trained weights. The loop is transformers'
``Trainer`` (:class:`core.training.trainer.BatchTrainer`, the choice is argued in
:mod:`core.training`) with its own optimiser, schedule, evaluation, early stopping and
best-checkpoint restore: each optimiser step of ``batch_size`` examples runs as micro-batches of
``micro_batch_size`` (gradient accumulation); ``hooks.micro_batch(done, total)`` follows every
micro-batch, ``hooks.step(step, total_steps, loss)`` every optimiser step, and a set
``hooks.cancel`` stops before the next micro-batch. A step cut short is dropped (never
applied), so the returned model holds exactly the completed steps; the caller decides whether
to save it.

Gradient accumulation keeps the loss of a full batch: each micro-batch's summed token loss is
divided by the whole step's loss tokens (the Trainer's ``num_items_in_batch``), so the step
loss and gradient are those of one ``batch_size`` forward pass (up to float rounding).

Speed (measured in ``bench/training_speed.py``): examples are packed into full ``max_length``
rows (:mod:`core.finetune.packing`; each attends only to itself, so the loss is the unpacked
loss) and, where the hardware has native bf16, the forward pass runs under bf16 autocast with
fp32 master weights (:mod:`core.training.precision`).

Exposures by time budget (``settings.epochs == 0``): two micro-batches are timed on the model
itself before training (gradients dropped), and ``steps = budget x tokens/s / tokens per
step``, both in row tokens (every position computed: what costs time, whatever share carries
loss; :func:`core.finetune.throughput.budget_steps`; the last epoch may be partial); a run
that overruns its budget by ``OVERRUN`` stops at the next step
(:class:`core.training.callbacks.TimeBudget`). With ``held_out`` examples, the Trainer
measures their loss before training and after each epoch (``eval_on_start``,
``eval_strategy="epoch"``: the mean of the held-out micro-batches' token means); its
``EarlyStoppingCallback`` stops when the loss has not dropped by ``MIN_IMPROVEMENT`` nats for
``PATIENCE`` epochs, and ``load_best_model_at_end`` puts back the best epoch's adapter (saved
per epoch, adapter weights only, in a folder removed at the end), also when the budget or
a cancel ends the run (the epoch it was in is evaluated first).

Data parallel (``torchrun``/``accelerate launch``, one process per device): the run is the
single-process run split by rank. ``batch_size`` stays the global batch, so the optimiser
steps, learning-rate schedule and logged step losses are those of one process; each rank runs
its share of every step's micro-batches (:class:`core.training.trainer.BatchTrainer`). The
ranks agree on what they decide alone: the budget's rate is the sum of the ranks' probes, the
budget's stop is taken when any rank is past it, the held-out loss is the Trainer's (each rank
its share of the batches, gathered).
``micro_batches``/``total_micro_batches`` count this process's share; token counts
are the run's. A cancel is per process (a launcher stops all of them on Ctrl-C).

Optimiser: the Trainer's AdamW (weight decay 0) and its ``linear`` schedule with
``warmup_steps=WARMUP_FRACTION`` (the first ceil(10 %) of the steps; step s of a warm-up of w
runs at s/w of the peak, so the very first at 0), then linear decay to 0; gradient norm
clipped at 1.0. Loss: token-level cross-entropy over labels != -100
(what transformers computes when ``labels`` is passed).

Example:
    >>> result = train_lora(model, tok, examples, LoraSettings(epochs=1))  # doctest: +SKIP
    >>> result.losses[:3]
    [4.1, 3.8, 3.5]
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from peft import get_peft_model
from transformers import EarlyStoppingCallback, TrainerCallback

from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.data import (
    IGNORE_INDEX,
    TrainExample,
    batches,
    collate,
    count_target_tokens,
    encode_examples,
)
from core.finetune.packing import pack_features, stack_rows
from core.finetune.throughput import budget_steps
from core.training.callbacks import HooksCallback, TimeBudget, TrainingHooks
from core.training.losses import labelled_lm_loss
from core.training.precision import autocast, resolve_precision
from core.training.trainer import (
    BatchTrainer,
    all_reduce,
    rank_batches,
    run_folder,
    training_args,
)

WARMUP_FRACTION = 0.1
MAX_GRAD_NORM = 1.0
OVERRUN = 1.1  # a budgeted run stops at the first step past 110 % of its minutes
PATIENCE = 2  # epochs without held-out improvement before stopping
MIN_IMPROVEMENT = 0.005  # held-out loss drop (nats) that counts as an improvement


@dataclass
class TrainResult:
    """What a run produced: the peft model (adapter named ``adapter_name``) and its numbers."""

    model: object
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    total_steps: int = 0
    examples: int = 0
    train_tokens: int = 0
    tokens_done: int = 0
    row_tokens_done: int = 0  #: tokens the model computed on (packed rows or padded batches)
    micro_batches: int = 0  #: run by this process (its share under a launcher)
    total_micro_batches: int = 0  #: planned for this process
    seconds: float = 0.0
    cancelled: bool = False
    trainable_parameters: int = 0
    target_modules: tuple[str, ...] = ()
    epochs: float = 0.0  #: planned: total steps / steps per epoch (a budget's may be partial)
    epochs_done: int = 0  #: epochs ended (a partial last one counts)
    steps_per_epoch: int = 0
    packed_rows: int = 0
    precision: str = "fp32"
    probe_row_tokens_per_second: float = 0.0  #: summed over the ranks under a launcher
    held_out_losses: list[float] = field(default_factory=list)  #: [before, after epoch 1, ...]
    best_epoch: int = 0
    stopped: str = ""  #: why training ended before its planned epochs ("" = it did not)

    @property
    def final_loss(self) -> float | None:
        """Mean of the last (up to) 5 step losses, which is less noisy than the last one."""
        tail = self.losses[-5:]
        return sum(tail) / len(tail) if tail else None

    @property
    def tokens_per_second(self) -> float:
        """Training tokens (labels != -100) processed per second of the training loop."""
        return self.tokens_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def row_tokens_per_second(self) -> float:
        """Tokens computed on (every position of every row) per second: the hardware's rate,
        whatever share of them carries loss."""
        return self.row_tokens_done / self.seconds if self.seconds > 0 else 0.0


def lora_config(settings: LoraSettings, model, *, is_seq2seq: bool):
    """A peft ``LoraConfig`` for ``model`` (target modules: the settings', else peft's)."""
    return settings.peft_config(model, task_type="SEQ_2_SEQ_LM" if is_seq2seq else "CAUSAL_LM")


def _loss_tokens(labels: torch.Tensor, is_seq2seq: bool) -> int:
    """Positions the model's mean loss averages over (causal LMs predict labels[:, 1:])."""
    counted = labels if is_seq2seq else labels[:, 1:]
    return int((counted != IGNORE_INDEX).sum())


def _split(batch: dict[str, torch.Tensor], size: int,
           is_seq2seq: bool) -> list[dict[str, torch.Tensor]]:
    """Rows cut into micro-batches, each trimmed of the padding columns it does not need.

    Example: a batch of 4 rows with size 3 -> rows [0:3] and [3:4].
    """
    parts = []
    for i in range(0, batch["input_ids"].shape[0], size):
        part = {k: v[i:i + size] for k, v in batch.items()}
        width = int(part["attention_mask"].sum(1).max())
        label_width = width
        if is_seq2seq:
            used = (part["labels"] != IGNORE_INDEX).any(0).nonzero()
            label_width = int(used.max()) + 1 if len(used) else 1
        parts.append({"input_ids": part["input_ids"][:, :width],
                      "attention_mask": part["attention_mask"][:, :width],
                      "labels": part["labels"][:, :label_width]})
    return parts


def epoch_order(n: int, first: int, *, seed: int, epoch: int) -> list[int]:
    """Unit indices for one epoch: ``0..first-1`` shuffled, then ``first..n-1`` shuffled (the
    questions-first order; ``first = 0`` is one plain shuffle), reproducibly per epoch.

    Example: ``epoch_order(5, 2, seed=0, epoch=0)`` is a permutation of [0, 1] followed by
    one of [2, 3, 4].
    """
    rng = random.Random(seed * 1000 + epoch)
    head, tail = list(range(first)), list(range(first, n))
    rng.shuffle(head)
    rng.shuffle(tail)
    return head + tail


def _batch_rows(units: Sequence[dict[str, list]], batch_size: int, pad_id: int, packed: bool,
                *, seed: int, epoch: int, first: int = 0) -> list[dict[str, torch.Tensor]]:
    """One epoch's optimiser-step batches: packed rows stacked, or padded examples; the first
    ``first`` units (the questions, in questions-first order) before the rest."""
    if not packed and not first:
        return batches(units, batch_size, pad_id, seed=seed, epoch=epoch)
    order = epoch_order(len(units), first, seed=seed, epoch=epoch)
    if not packed:
        return [collate([units[i] for i in order[s:s + batch_size]], pad_id)
                for s in range(0, len(order), batch_size)]
    return [stack_rows([units[i] for i in order[s:s + batch_size]])
            for s in range(0, len(order), batch_size)]


def _micro_parts(batch: dict[str, torch.Tensor], size: int, packed: bool,
                 is_seq2seq: bool) -> list[dict[str, torch.Tensor]]:
    if packed:
        return [{k: v[i:i + size] for k, v in batch.items()}
                for i in range(0, batch["input_ids"].shape[0], size)]
    return _split(batch, size, is_seq2seq)


def _batch_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean token loss of ``batch``: for a causal LM from
    :func:`core.training.losses.labelled_lm_loss` (vocabulary projected only where there is
    a label), else the model's own."""
    inner = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    if inner is not model or inner.config.is_encoder_decoder:
        return model(**batch, use_cache=False).loss  # DDP syncs gradients only via forward
    return labelled_lm_loss(model, batch)


def _mean_loss(model, parts: Sequence[dict[str, torch.Tensor]], precision: str,
               is_seq2seq: bool) -> float:
    """Token-mean loss of ``parts`` without gradients (the held-out measure)."""
    total, tokens = _loss_sums(model, parts, precision, is_seq2seq)
    return total / max(1.0, tokens)


def _loss_sums(model, parts: Sequence[dict[str, torch.Tensor]], precision: str,
               is_seq2seq: bool) -> tuple[float, float]:
    """(summed token loss, loss tokens) of ``parts`` without gradients."""
    total = tokens = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad(), autocast(precision, _device(model).type):
        for part in parts:
            n = _loss_tokens(part["labels"], is_seq2seq)
            total += float(_batch_loss(model, part)) * n
            tokens += n
    model.train(was_training)
    return total, tokens


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _probe_rate(model, parts: Sequence[dict[str, torch.Tensor]], precision: str) -> float:
    """Row tokens/s of forward+backward: the faster of the second and third micro-batch (the
    first warms up); gradients are dropped, so the weights are untouched."""
    model.train()
    rates = []
    for part in list(parts)[:3]:
        start = time.perf_counter()
        with autocast(precision, _device(model).type):
            loss = _batch_loss(model, part)
        loss.backward()
        seconds = time.perf_counter() - start
        rates.append(part["input_ids"].numel() / max(seconds, 1e-6))
    model.zero_grad(set_to_none=True)
    return max(rates[1:] or rates)


@dataclass
class _Data:
    """One run's encoded examples, the units a step batches (packed rows or examples) and how
    an epoch turns them into micro-batches."""

    features: list[dict[str, list]]
    units: list[dict[str, list]]
    settings: LoraSettings
    pad_id: int
    packed: bool
    is_seq2seq: bool
    first: int = 0  #: units that come first in every epoch (questions-first order)

    @property
    def micro(self) -> int:
        return min(self.settings.micro_batch_size, self.settings.batch_size)

    @property
    def accumulation(self) -> int:
        return math.ceil(self.settings.batch_size / self.micro)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.units) / self.settings.batch_size)

    @property
    def micro_per_epoch(self) -> int:
        full, rest = divmod(len(self.units), self.settings.batch_size)
        return full * self.accumulation + math.ceil(rest / self.micro)

    def epoch_batches(self, epoch: int) -> list[dict]:
        """Epoch ``epoch``'s micro-batches, step by step (seeded shuffle per epoch)."""
        return [part for batch in _batch_rows(self.units, self.settings.batch_size, self.pad_id,
                                              self.packed, seed=self.settings.seed, epoch=epoch,
                                              first=self.first)
                for part in _micro_parts(batch, self.micro, self.packed, self.is_seq2seq)]

    def collate(self, units: Sequence[dict[str, list]]) -> dict[str, torch.Tensor]:
        """A micro-batch of ``units`` (the held-out set's data collator)."""
        return stack_rows(units) if self.packed else collate(units, self.pad_id)


def _encode(examples: Sequence[TrainExample], tokenizer, settings: LoraSettings,
            is_seq2seq: bool) -> _Data:
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    packed = settings.packing and not is_seq2seq
    groups = ([[ex for ex in examples if ex.prompt], [ex for ex in examples if not ex.prompt]]
              if settings.order == "questions-first" else [list(examples)])
    features: list[dict[str, list]] = []
    units: list[dict[str, list]] = []
    first = 0
    for g, group in enumerate(g for g in groups if g):
        encoded = encode_examples(group, tokenizer, max_length=settings.max_length,
                                  is_seq2seq=is_seq2seq)
        features += encoded
        units += pack_features(encoded, settings.max_length, pad_id) if packed else encoded
        if g == 0 and len(groups) > 1 and all(ex.prompt for ex in group):
            first = len(units)  # questions pack apart from documents and come first
    if first == len(units):
        first = 0  # only questions (or only documents): one shuffle
    return _Data(features, units, settings, pad_id, packed, is_seq2seq, first)


class _Record(TrainerCallback):
    """Counts the epochs ended and records every held-out loss the Trainer measures (the
    first before training) and the best epoch (the one ``load_best_model_at_end`` restores)."""

    def __init__(self, result: TrainResult) -> None:
        self.result, self.best = result, math.inf

    def on_epoch_end(self, args, state, control, **kwargs):
        self.result.epochs_done += 1

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = float((metrics or {})["eval_loss"])
        self.result.held_out_losses.append(round(loss, 5))
        if self.result.epochs_done and loss < self.best:
            self.best, self.result.best_epoch = loss, self.result.epochs_done


def _plan(result: TrainResult, data: _Data, model, precision: str, world_size: int
          ) -> float | None:
    """Fill in the planned steps, epochs and counts; returns the time budget in seconds (a
    budgeted run, after timing two micro-batches on ``model``) or None."""
    settings, per_epoch = data.settings, data.steps_per_epoch
    total, budget = per_epoch * settings.epochs, None
    if settings.epochs == 0:
        first = data.epoch_batches(0)
        row_tokens_per_epoch = sum(p["input_ids"].numel() for p in first)
        # every rank times its own; their sum is the run's rate (each does 1/world of a step)
        result.probe_row_tokens_per_second = all_reduce(
            [_probe_rate(model, first[:3], precision)])[0]
        total = budget_steps(settings.minutes * 60, result.probe_row_tokens_per_second,
                             row_tokens_per_epoch / per_epoch, per_epoch)
        budget = settings.minutes * 60 * OVERRUN
    result.steps_per_epoch, result.total_steps = per_epoch, total
    result.epochs = round(total / per_epoch, 2)
    result.total_micro_batches = round(  # this process's (its share of every step)
        rank_batches(data.micro_per_epoch, data.accumulation, world_size) * total / per_epoch)
    result.train_tokens = round(count_target_tokens(data.features) * total / per_epoch)
    return budget


def _args(work, data: _Data, device: torch.device, evaluate: bool):
    """The Trainer's arguments: its AdamW and linear warm-up schedule, and with held-out
    examples its per-epoch evaluation, early stopping metric and best-checkpoint restore."""
    settings = data.settings
    best = dict(eval_strategy="epoch", eval_on_start=True, save_strategy="epoch",
                save_only_model=True, save_total_limit=1, load_best_model_at_end=True,
                metric_for_best_model="loss", greater_is_better=False,
                prediction_loss_only=True, per_device_eval_batch_size=data.micro)
    return training_args(work, epochs=max(1, settings.epochs),
                         learning_rate=settings.learning_rate, accumulation=data.accumulation,
                         batch_size=data.micro, device=device.type, seed=settings.seed,
                         max_grad_norm=MAX_GRAD_NORM, remove_unused_columns=False,
                         optim="adamw_torch", lr_scheduler_type="linear",
                         warmup_steps=WARMUP_FRACTION, **(best if evaluate else {}))


@dataclass
class _SummedLoss:
    """``loss(model, batch)``: the batch's token loss summed (the trainer divides it by the
    step's loss tokens), counting the tokens a training micro-batch computed."""

    result: TrainResult
    is_seq2seq: bool
    steps: HooksCallback
    trainer: BatchTrainer | None = None

    def __call__(self, model, batch: dict) -> torch.Tensor:
        value = _batch_loss(model, batch)
        if not torch.isfinite(value):
            raise UserError(f"the loss became {value.item()} at step "
                            f"{len(self.steps.losses) + 1}: lower the learning rate")
        n = _loss_tokens(batch["labels"], self.is_seq2seq)
        if model.training and not self.trainer.padding:
            self.result.tokens_done += n
            self.result.row_tokens_done += batch["input_ids"].numel()
        return value * n


def train_lora(model, tokenizer, examples: Sequence[TrainExample], settings: LoraSettings, *,
               is_seq2seq: bool = False, adapter_name: str = "default",
               hooks: TrainingHooks | None = None,
               held_out: Sequence[TrainExample] = ()) -> TrainResult:
    """Wrap ``model`` with a fresh LoRA adapter and train it on ``examples``.

    ``model`` is modified in place (LoRA layers injected); pass a model you own.
    ``held_out`` examples are never trained on; their loss decides early stopping.
    """
    hooks = hooks or TrainingHooks()
    torch.manual_seed(settings.seed)
    data = _encode(examples, tokenizer, settings, is_seq2seq)
    device = _device(model)
    precision = resolve_precision(settings.precision, device.type)
    config = lora_config(settings, model, is_seq2seq=is_seq2seq)
    peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    result = TrainResult(model=peft_model, examples=len(data.features),
                         packed_rows=len(data.units) if data.packed else 0, precision=precision,
                         trainable_parameters=sum(p.numel() for p in peft_model.parameters()
                                                  if p.requires_grad),
                         target_modules=tuple(sorted({m.rsplit(".", 1)[-1]
                                                      for m in config.target_modules})))
    # Built before any timing or held-out measure: under a launcher this joins the process
    # group (the ranks agree on those numbers); epochs and max_steps are set once known.
    args = _args("unused", data, device, bool(held_out))
    args.output_dir = str(run_folder("nlplab-lora"))  # one folder for every rank
    budget = _plan(result, data, peft_model, precision, args.world_size)
    if hooks.cancelled:
        result.cancelled = True
        return result
    args.num_train_epochs = math.ceil(result.total_steps / data.steps_per_epoch)
    args.max_steps = result.total_steps if settings.epochs == 0 else -1
    try:
        _fit(result, data, peft_model, args, hooks, precision, budget, held_out, tokenizer)
    finally:
        all_reduce([0.0])  # every rank is done with the run's folder before it goes
        shutil.rmtree(args.output_dir, ignore_errors=True)
    if args.world_size > 1:  # the run's counts, not this process's share
        result.tokens_done, result.row_tokens_done = (
            round(n) for n in all_reduce([result.tokens_done, result.row_tokens_done]))
    return result


def _fit(result: TrainResult, data: _Data, model, args, hooks: TrainingHooks, precision: str,
         budget: float | None, held_out: Sequence[TrainExample], tokenizer) -> None:
    """Run the Trainer; fill ``result`` with what it did (also when it raised)."""
    callback = HooksCallback(hooks, result.total_micro_batches, digits=5)
    timer = TimeBudget(budget)
    callbacks = [callback, timer, _Record(result)]
    eval_dataset = None
    if held_out:
        eval_dataset = _encode(held_out, tokenizer, data.settings, data.is_seq2seq).units
        early = EarlyStoppingCallback(PATIENCE, MIN_IMPROVEMENT)
        callbacks.append(early)
    loss = _SummedLoss(result, data.is_seq2seq, callback)
    trainer = BatchTrainer(model=model, args=args, epoch_batches=data.epoch_batches,
                           batches_per_epoch=data.micro_per_epoch, loss=loss,
                           precision=precision, callbacks=callbacks,
                           eval_dataset=eval_dataset, data_collator=data.collate)
    loss.trainer = trainer
    try:
        trainer.train()
    finally:
        result.seconds = callback.seconds
        result.micro_batches = callback.micro_batches
        result.losses = [value for _, value in callback.losses]
        result.steps = len(result.losses)
        result.cancelled = hooks.cancelled and result.steps < result.total_steps
        if timer.stopped:
            result.stopped = "time budget"
        elif held_out and early.early_stopping_patience_counter >= PATIENCE:
            result.stopped = "held-out loss stopped improving"
        model.eval()
