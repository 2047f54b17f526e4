"""Knowledge fine-tuning's trainer: a LoRA adapter on a model instance, on the one stack.

Train on a model of its own (:func:`core.training.copy.training_copy`), never on the shared
:class:`core.generation.Generator`'s model: training flips dropout on and holds the CPU for
minutes, and concurrent answers must not see half-trained weights. The loop is transformers'
``Trainer`` (:class:`core.training.trainer.BatchTrainer`, the choice is argued in
:mod:`core.training`): each optimiser step of ``batch_size`` examples runs as micro-batches of
``micro_batch_size`` (gradient accumulation); ``hooks.micro_batch(done, total)`` follows every
micro-batch, ``hooks.step(step, total_steps, loss)`` every optimiser step, and a set
``hooks.cancel`` stops before the next micro-batch. A step cut short is dropped (never
applied), so the returned model holds exactly the completed steps; the caller decides whether
to save it.

Gradient accumulation keeps the loss of a full batch: each micro-batch's mean loss is weighted
by its share of the batch's loss tokens, so the step loss and gradient are those of one
``batch_size`` forward pass (up to float rounding).

Speed (measured in ``bench/training_speed.py``): examples are packed into full ``max_length``
rows (:mod:`core.finetune.packing`; each attends only to itself, so the loss is the unpacked
loss) and, where the hardware has native bf16, the forward pass runs under bf16 autocast with
fp32 master weights (:mod:`core.training.precision`).

Exposures by time budget (``settings.epochs == 0``): two micro-batches are timed on the model
itself before training (gradients dropped), and ``steps = budget x tokens/s / tokens per
step``, both in row tokens (every position computed: what costs time, whatever share carries
loss; :func:`core.finetune.estimate.budget_steps`; the last epoch may be partial); a run that
overruns its budget by ``OVERRUN`` stops at the next step. With ``held_out`` examples, their
loss is measured after each epoch; training stops when it has not improved by
``MIN_IMPROVEMENT`` for ``PATIENCE`` epochs, and the best epoch's adapter weights are kept (a
few MB, in memory).

Data parallel (``torchrun``/``accelerate launch``, one process per device): the run is the
single-process run split by rank. ``batch_size`` stays the global batch, so the optimiser
steps, learning-rate schedule and logged step losses are those of one process; each rank runs
its share of every step's micro-batches (:class:`core.training.trainer.BatchTrainer`). The
ranks agree on what they decide alone: the budget's rate is the sum of the ranks' probes, the
budget's stop is taken when any rank is past it, the held-out loss is measured in shares and
summed. ``micro_batches``/``total_micro_batches`` count this process's share; token counts
are the run's. A cancel is per process (a launcher stops all of them on Ctrl-C).

Optimiser: AdamW (weight decay 0), linear warm-up over the first 10 % of steps then linear
decay to 0, gradient norm clipped at 1.0. Loss: token-level cross-entropy over labels != -100
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
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import TrainerCallback

from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.data import (
    IGNORE_INDEX,
    TrainExample,
    batches,
    count_target_tokens,
    encode_examples,
)
from core.finetune.packing import pack_features, stack_rows
from core.training.losses import labelled_lm_loss
from core.training.precision import autocast, resolve_precision

if TYPE_CHECKING:
    from core.training.callbacks import TrainingHooks

WARMUP_FRACTION = 0.1
MAX_GRAD_NORM = 1.0
OVERRUN = 1.1  # a budgeted run stops at the first step past 110 % of its minutes
PATIENCE = 2  # epochs without held-out improvement before stopping
MIN_IMPROVEMENT = 0.005  # relative held-out loss drop that counts as an improvement


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


def _lr_factor(step: int, total: int) -> float:
    warmup = max(1, int(total * WARMUP_FRACTION))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


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


def _batch_rows(units: Sequence[dict[str, list]], batch_size: int, pad_id: int, packed: bool,
                *, seed: int, epoch: int) -> list[dict[str, torch.Tensor]]:
    """One epoch's optimiser-step batches: packed rows stacked, or padded examples."""
    if not packed:
        return batches(units, batch_size, pad_id, seed=seed, epoch=epoch)
    order = list(range(len(units)))
    random.Random(seed * 1000 + epoch).shuffle(order)
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


class _BudgetAndHeldOut(TrainerCallback):
    """Stop at the time budget's overrun; after each epoch, measure the held-out loss, keep
    the best epoch's trainable weights and stop when it stops improving."""

    def __init__(self, model, result: TrainResult, *, deadline: float | None,
                 evaluate: Callable[[], float] | None) -> None:
        self.model, self.result, self.deadline, self.evaluate = model, result, deadline, evaluate
        self.best: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad = 0

    def on_step_end(self, args, state, control, **kwargs):
        if self.deadline is None:
            return
        late = float(time.perf_counter() > self.deadline)
        if args.world_size > 1:  # every rank stops at the same step, or the others would wait
            from core.training.trainer import all_reduce

            late = all_reduce([late], "max")[0]
        if late:
            self.result.stopped = "time budget"
            control.should_training_stop = True

    def on_epoch_end(self, args, state, control, **kwargs):
        self.result.epochs_done += 1
        if self.evaluate is None:
            return
        loss = round(self.evaluate(), 5)
        self.result.held_out_losses.append(loss)
        if self.best is None or loss < self.best * (1 - MIN_IMPROVEMENT):
            self.best, self.bad = loss, 0
            self.best_state = {n: p.detach().clone() for n, p in self.model.named_parameters()
                               if p.requires_grad}
            self.result.best_epoch = self.result.epochs_done
            return
        self.bad += 1
        if self.bad >= PATIENCE:
            self.result.stopped = "held-out loss stopped improving"
            control.should_training_stop = True

    def restore_best(self) -> None:
        """Put back the best epoch's weights if a later epoch was worse."""
        losses = self.result.held_out_losses
        if self.best_state is None or not losses or losses[-1] <= self.best:
            return
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in self.best_state.items():
                params[name].copy_(value)


def train_lora(model, tokenizer, examples: Sequence[TrainExample], settings: LoraSettings, *,
               is_seq2seq: bool = False, adapter_name: str = "default",
               hooks: TrainingHooks | None = None,
               held_out: Sequence[TrainExample] = ()) -> TrainResult:
    """Wrap ``model`` with a fresh LoRA adapter and train it on ``examples``.

    ``model`` is modified in place (LoRA layers injected); pass a model you own.
    ``held_out`` examples are never trained on; their loss decides early stopping.
    """
    from peft import get_peft_model

    from core.finetune.estimate import budget_steps
    from core.training.callbacks import HooksCallback, TrainingHooks
    from core.training.trainer import BatchTrainer, all_reduce, rank_batches, training_args

    hooks = hooks or TrainingHooks()
    torch.manual_seed(settings.seed)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    features = encode_examples(examples, tokenizer, max_length=settings.max_length,
                               is_seq2seq=is_seq2seq)
    packed = settings.packing and not is_seq2seq
    units = pack_features(features, settings.max_length, pad_id) if packed else features
    device = _device(model)
    precision = resolve_precision(settings.precision, device.type)
    config = lora_config(settings, model, is_seq2seq=is_seq2seq)
    peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    micro = min(settings.micro_batch_size, settings.batch_size)
    steps_per_epoch = math.ceil(len(units) / settings.batch_size)
    full, rest = divmod(len(units), settings.batch_size)
    micro_per_epoch = full * math.ceil(settings.batch_size / micro) + math.ceil(rest / micro)
    tokens_per_epoch = count_target_tokens(features)
    accumulation = math.ceil(settings.batch_size / micro)
    work = Path(tempfile.gettempdir()) / f"nlplab-lora-{uuid.uuid4().hex}"  # removed at the end
    # Built before any timing or held-out measure: under a launcher this joins the process
    # group (the ranks agree on those numbers); epochs and max_steps are set once known.
    args = training_args(work, epochs=max(1, settings.epochs), learning_rate=settings.learning_rate,
                         accumulation=accumulation, batch_size=micro, device=device.type,
                         seed=settings.seed, max_grad_norm=MAX_GRAD_NORM,
                         remove_unused_columns=False)
    rank, world_size = args.process_index, args.world_size

    def epoch_batches(epoch: int) -> list[dict]:
        parts = []
        for batch in _batch_rows(units, settings.batch_size, pad_id, packed,
                                 seed=settings.seed, epoch=epoch):
            n_tokens = _loss_tokens(batch["labels"], is_seq2seq)
            for part in _micro_parts(batch, micro, packed, is_seq2seq):
                share = _loss_tokens(part["labels"], is_seq2seq) / max(1, n_tokens)
                parts.append({**part, "share": share})
        return parts

    result = TrainResult(model=peft_model, examples=len(features), packed_rows=len(units)
                         if packed else 0, precision=precision,
                         trainable_parameters=sum(p.numel() for p in trainable),
                         target_modules=tuple(sorted({m.rsplit(".", 1)[-1]
                                                      for m in config.target_modules})))
    total = steps_per_epoch * settings.epochs
    deadline_seconds = None
    if settings.epochs == 0:
        first = epoch_batches(0)
        row_tokens_per_epoch = sum(p["input_ids"].numel() for p in first)
        probe = [{k: v for k, v in p.items() if k != "share"} for p in first[:3]]
        # every rank times its own; their sum is the run's rate (each does 1/world of a step)
        result.probe_row_tokens_per_second = all_reduce(
            [_probe_rate(peft_model, probe, precision)])[0]
        total = budget_steps(settings.minutes * 60, result.probe_row_tokens_per_second,
                             row_tokens_per_epoch / steps_per_epoch, steps_per_epoch)
        deadline_seconds = settings.minutes * 60 * OVERRUN
    epochs = math.ceil(total / steps_per_epoch)
    result.steps_per_epoch = steps_per_epoch
    result.epochs = round(total / steps_per_epoch, 2)
    result.total_steps = total
    result.total_micro_batches = round(  # this process's (its share of every step)
        rank_batches(micro_per_epoch, accumulation, world_size) * total / steps_per_epoch)
    result.train_tokens = round(tokens_per_epoch * total / steps_per_epoch)
    if hooks.cancelled:
        result.cancelled = True
        return result

    def loss(model, batch: dict) -> torch.Tensor:
        share = batch.pop("share")
        value = _batch_loss(model, batch)
        if not torch.isfinite(value):
            raise UserError(f"the loss became {value.item()} at step "
                            f"{len(callback.losses) + 1}: lower the learning rate")
        if not trainer.padding:
            result.tokens_done += _loss_tokens(batch["labels"], is_seq2seq)
            result.row_tokens_done += batch["input_ids"].numel()
        return value * share

    evaluate = None
    if held_out:
        held_features = encode_examples(held_out, tokenizer, max_length=settings.max_length,
                                        is_seq2seq=is_seq2seq)
        held_units = (pack_features(held_features, settings.max_length, pad_id) if packed
                      else held_features)
        held_parts = [p for b in _batch_rows(held_units, settings.batch_size, pad_id, packed,
                                             seed=settings.seed, epoch=0)
                      for p in _micro_parts(b, micro, packed, is_seq2seq)]

        def evaluate() -> float:  # each rank its share; the ranks' sums give the mean
            total_loss, n = all_reduce(_loss_sums(peft_model, held_parts[rank::world_size],
                                                  precision, is_seq2seq))
            return total_loss / max(1.0, n)

        result.held_out_losses.append(round(evaluate(), 5))  # before training: epoch 0

    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _lr_factor(s, total))
    callback = HooksCallback(hooks, result.total_micro_batches, digits=5)
    watcher = _BudgetAndHeldOut(peft_model, result, deadline=None, evaluate=evaluate)
    args.num_train_epochs, args.max_steps = epochs, total if settings.epochs == 0 else -1
    trainer = BatchTrainer(model=peft_model, args=args, epoch_batches=epoch_batches,
                           batches_per_epoch=micro_per_epoch, loss=loss, precision=precision,
                           optimizers=(optimiser, scheduler), callbacks=[callback, watcher])
    if deadline_seconds is not None:
        watcher.deadline = time.perf_counter() + deadline_seconds
    try:
        trainer.train()
    finally:
        result.seconds = callback.seconds
        result.micro_batches = callback.micro_batches
        result.losses = [loss for _, loss in callback.losses]
        result.steps = len(result.losses)
        result.cancelled = hooks.cancelled and result.steps < total
        optimiser.zero_grad(set_to_none=True)  # a step cut short is dropped
        if not result.cancelled:
            watcher.restore_best()
        peft_model.eval()
        shutil.rmtree(work, ignore_errors=True)
    if world_size > 1:  # the run's counts, not this process's share
        result.tokens_done, result.row_tokens_done = (
            round(n) for n in all_reduce([result.tokens_done, result.row_tokens_done]))
    return result
