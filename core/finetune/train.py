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
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.data import (
    IGNORE_INDEX,
    TrainExample,
    batches,
    count_target_tokens,
    encode_examples,
)

if TYPE_CHECKING:
    from core.training.callbacks import TrainingHooks

WARMUP_FRACTION = 0.1
MAX_GRAD_NORM = 1.0


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
    micro_batches: int = 0
    total_micro_batches: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    trainable_parameters: int = 0
    target_modules: tuple[str, ...] = ()

    @property
    def final_loss(self) -> float | None:
        """Mean of the last (up to) 5 step losses, which is less noisy than the last one."""
        tail = self.losses[-5:]
        return sum(tail) / len(tail) if tail else None

    @property
    def tokens_per_second(self) -> float:
        """Training tokens (labels != -100) processed per second of the training loop."""
        return self.tokens_done / self.seconds if self.seconds > 0 else 0.0


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


def train_lora(model, tokenizer, examples: Sequence[TrainExample], settings: LoraSettings, *,
               is_seq2seq: bool = False, adapter_name: str = "default",
               hooks: TrainingHooks | None = None) -> TrainResult:
    """Wrap ``model`` with a fresh LoRA adapter and train it on ``examples``.

    ``model`` is modified in place (LoRA layers injected); pass a model you own.
    """
    from peft import get_peft_model

    from core.training.callbacks import HooksCallback, TrainingHooks
    from core.training.trainer import BatchTrainer, training_args

    hooks = hooks or TrainingHooks()
    torch.manual_seed(settings.seed)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    features = encode_examples(examples, tokenizer, max_length=settings.max_length,
                               is_seq2seq=is_seq2seq)
    config = lora_config(settings, model, is_seq2seq=is_seq2seq)
    peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    steps_per_epoch = math.ceil(len(features) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    micro = min(settings.micro_batch_size, settings.batch_size)
    full, rest = divmod(len(features), settings.batch_size)
    micro_per_epoch = full * math.ceil(settings.batch_size / micro) + math.ceil(rest / micro)
    result = TrainResult(model=peft_model, total_steps=total, examples=len(features),
                         total_micro_batches=micro_per_epoch * settings.epochs,
                         train_tokens=count_target_tokens(features) * settings.epochs,
                         trainable_parameters=sum(p.numel() for p in trainable),
                         target_modules=tuple(sorted(config.target_modules)))
    if hooks.cancelled:
        result.cancelled = True
        return result

    def epoch_batches(epoch: int) -> list[dict]:
        parts = []
        for batch in batches(features, settings.batch_size, pad_id, seed=settings.seed,
                             epoch=epoch):
            n_tokens = _loss_tokens(batch["labels"], is_seq2seq)
            for part in _split(batch, micro, is_seq2seq):
                share = _loss_tokens(part["labels"], is_seq2seq) / max(1, n_tokens)
                parts.append({**part, "share": share})
        return parts

    def loss(model, batch: dict) -> torch.Tensor:
        share = batch.pop("share")
        value = model(**batch).loss
        if not torch.isfinite(value):
            raise UserError(f"the loss became {value.item()} at step "
                            f"{len(callback.losses) + 1}: lower the learning rate")
        result.tokens_done += int((batch["labels"] != IGNORE_INDEX).sum())
        return value * share

    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _lr_factor(s, total))
    device = next(peft_model.parameters()).device
    callback = HooksCallback(hooks, result.total_micro_batches, digits=5)
    work = tempfile.mkdtemp(prefix="nlplab-lora-")
    args = training_args(work, epochs=settings.epochs, learning_rate=settings.learning_rate,
                         accumulation=math.ceil(settings.batch_size / micro),
                         batch_size=micro, device=device.type, seed=settings.seed,
                         max_grad_norm=MAX_GRAD_NORM, remove_unused_columns=False)
    trainer = BatchTrainer(model=peft_model, args=args, epoch_batches=epoch_batches,
                           batches_per_epoch=micro_per_epoch, loss=loss,
                           optimizers=(optimiser, scheduler), callbacks=[callback])
    try:
        trainer.train()
    finally:
        result.seconds = callback.seconds
        result.micro_batches = callback.micro_batches
        result.losses = [loss for _, loss in callback.losses]
        result.steps = len(result.losses)
        result.cancelled = hooks.cancelled and result.steps < total
        optimiser.zero_grad(set_to_none=True)  # a step cut short is dropped
        peft_model.eval()
        shutil.rmtree(work, ignore_errors=True)
    return result
