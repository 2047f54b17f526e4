"""The LoRA training loop: peft adapters on a model instance, AdamW, progress, cancellation.

Train on a model instance of its own (:func:`core.loaders.load_causal_or_seq2seq` returns a
fresh one), never on the shared :class:`core.generation.Generator`'s model: training flips
dropout on and holds the CPU for minutes, and concurrent answers must not see half-trained
weights. The loop is plain PyTorch (no Trainer) so progress and cancellation are checked often:
each optimiser step of ``batch_size`` examples runs as micro-batches of ``micro_batch_size``
(gradient accumulation), ``on_micro_batch(done, total)`` follows every micro-batch,
``on_step(step, total_steps, loss)`` every optimiser step, and a set ``cancel`` event stops
before the next micro-batch. A step cut short is dropped (its gradients are discarded), so the
returned model holds exactly the completed steps; the caller decides whether to save it.

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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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

StepCallback = Callable[[int, int, float], None]
MicroCallback = Callable[[int, int], None]
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
    """A peft ``LoraConfig`` for ``model`` (target modules per its ``config.model_type``)."""
    from peft import LoraConfig, TaskType

    model_type = getattr(model.config, "model_type", "")
    modules = settings.modules_for(model_type)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in modules if m.rsplit(".", 1)[-1] not in names]
    if missing:
        raise UserError(f"target modules {missing} not found in {model_type or 'the model'}; "
                        f"leave them empty for the default of this architecture")
    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=list(modules), bias="none",
                      task_type=TaskType.SEQ_2_SEQ_LM if is_seq2seq else TaskType.CAUSAL_LM)


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
               on_step: StepCallback | None = None,
               on_micro_batch: MicroCallback | None = None,
               cancel: threading.Event | None = None) -> TrainResult:
    """Wrap ``model`` with a fresh LoRA adapter and train it on ``examples``.

    ``model`` is modified in place (LoRA layers injected); pass a model you own.
    """
    from peft import get_peft_model

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
    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _lr_factor(s, total))
    device = next(peft_model.parameters()).device
    peft_model.train()
    start = time.perf_counter()
    try:
        for epoch in range(settings.epochs):
            for batch in batches(features, settings.batch_size, pad_id, seed=settings.seed,
                                 epoch=epoch):
                n_tokens = _loss_tokens(batch["labels"], is_seq2seq)
                step_loss = 0.0
                for part in _split(batch, micro, is_seq2seq):
                    if cancel is not None and cancel.is_set():
                        optimiser.zero_grad(set_to_none=True)  # drop the unfinished step
                        result.cancelled = True
                        return result
                    share = _loss_tokens(part["labels"], is_seq2seq) / max(1, n_tokens)
                    part = {k: v.to(device) for k, v in part.items()}
                    loss = peft_model(**part).loss
                    if not torch.isfinite(loss):
                        raise UserError(f"the loss became {loss.item()} at step "
                                        f"{result.steps + 1}: lower the learning rate")
                    (loss * share).backward()
                    step_loss += float(loss.item()) * share
                    result.tokens_done += int((part["labels"] != IGNORE_INDEX).sum())
                    result.micro_batches += 1
                    if on_micro_batch is not None:
                        on_micro_batch(result.micro_batches, result.total_micro_batches)
                torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
                optimiser.step()
                scheduler.step()
                optimiser.zero_grad(set_to_none=True)
                result.steps += 1
                result.losses.append(round(step_loss, 5))
                if on_step is not None:
                    on_step(result.steps, total, result.losses[-1])
    finally:
        result.seconds = time.perf_counter() - start
        peft_model.eval()
    return result
