"""``BatchTrainer``: transformers' ``Trainer`` over our micro-batches and a loss we build.

Knowledge fine-tuning and the emotion encoder control their data order, padding and loss
(seeded shuffles, padding trimmed per micro-batch, the vocabulary projected only where a label
is, class weights), so they hand this trainer a function ``epoch_batches(epoch) -> list of
micro-batch dicts`` and a ``loss(model, batch) -> tensor`` that is the batch's loss *summed*
over its label items (tokens with a label, or rows for a classifier). Everything else is the
Trainer's own: the optimiser (``optim``, AdamW by default) and its schedule
(``lr_scheduler_type``, ``warmup_steps``), gradient accumulation with the loss divided by the
step's label count (``num_items_in_batch``, which the Trainer counts over the step's
micro-batches and, under a launcher, over every rank: ``average_tokens_across_devices``),
clipping, device placement, evaluation, best-checkpoint restore and callbacks
(:mod:`.callbacks`). TRL's KTO/DPO trainers (feedback learning) are Trainer subclasses used as
they are.

Data parallel (``torchrun`` / ``accelerate launch``, one process per device): the global batch
is held constant, so a run on N processes takes the same optimiser steps, on the same
examples, as one process. ``args.gradient_accumulation_steps`` is the micro-batches of one
optimiser step *for one process*; every step's micro-batches are dealt out by rank
(:func:`shard_steps`: rank r takes micro-batches r, r+N, ... of each step), a rank short of one
runs a copy of one of its step's micro-batches whose labels count nothing (a padding
micro-batch: every rank must run as many per step, or the gradient all-reduce would wait
forever). The loss is divided by the whole step's label count and multiplied by N (as the
Trainer's own ``compute_loss`` does), so DDP's average of the ranks' gradients is the
single-process gradient. With one process nothing changes.

Example:
    >>> trainer = BatchTrainer(model=model, args=training_args(tmp, epochs=1,
    ...     learning_rate=1e-3, accumulation=4, device="cpu"), epoch_batches=lambda e: parts,
    ...     batches_per_epoch=len(parts), loss=summed_loss)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from transformers import PrinterCallback, Trainer, TrainingArguments

from core.errors import UserError
from core.training.losses import IGNORE_INDEX
from core.training.precision import AutocastMixin

T = TypeVar("T")


def training_args(output_dir, *, epochs: int = 1, max_steps: int = -1, learning_rate: float,
                  accumulation: int = 1, batch_size: int = 1, device: str = "cpu",
                  seed: int = 0, weight_decay: float = 0.0, max_grad_norm: float = 1.0,
                  args_class=TrainingArguments, **extra) -> TrainingArguments:
    """Trainer arguments every trainer here shares: quiet, no checkpoints, a log per step,
    AdamW with a linear schedule (the Trainer's defaults; no warm-up unless ``warmup_steps``).

    ``args_class`` is ``TrainingArguments`` or a TRL config (``KTOConfig``, ``DPOConfig``);
    ``extra`` carries that class's own fields (e.g. ``beta``) and overrides the shared ones
    (e.g. ``save_strategy="epoch"`` for a best-checkpoint restore).
    """
    fields = dict(output_dir=str(output_dir), num_train_epochs=epochs, max_steps=max_steps,
                  per_device_train_batch_size=batch_size,
                  gradient_accumulation_steps=accumulation, learning_rate=learning_rate,
                  weight_decay=weight_decay, max_grad_norm=max_grad_norm, seed=seed,
                  logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                  use_cpu=str(device).startswith("cpu"), dataloader_pin_memory=False)
    return args_class(**{**fields, **extra})


def quiet(trainer: Trainer) -> Trainer:
    """Drop the callback that prints log dicts on stdout (the CLI's stdout is JSON)."""
    trainer.remove_callback(PrinterCallback)
    return trainer


PAD = "_padding"  #: a padding micro-batch's real labels (its own count nothing)


def all_reduce(values: Sequence[float], op: str = "sum") -> list[float]:
    """``values`` summed (``op="sum"``) or maxed (``"max"``) over the processes of a launched
    run; unchanged when there is one process (no process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(values)
    device = (torch.device("cuda", torch.cuda.current_device())
              if dist.get_backend() == "nccl" else torch.device("cpu"))
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return tensor.tolist()


def save_once(save: Callable[[], T]) -> T | None:
    """``save()`` on the first process of a launched run only (one writer: two would race for
    the same folder); every process returns once it is done (the others get None) and raises
    when it failed. With one process: ``save()``."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return save()
    value, failed = None, None
    if dist.get_rank() == 0:
        try:
            value = save()
        except Exception as exc:  # re-raised below, once the others know
            failed = exc
    if all_reduce([float(failed is not None)], "max")[0]:
        if failed is not None:
            raise failed
        raise UserError("saving failed in the first process (its error says why)")
    return value


def run_folder(prefix: str) -> Path:
    """A fresh folder name under the temp dir for one run's checkpoints, the same on every
    process of a launched run (rank 0's, broadcast), so each rank reloads the checkpoint the
    first one wrote. Not created here; the caller removes it."""
    import torch.distributed as dist

    name = [f"{prefix}-{uuid.uuid4().hex}"]
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast_object_list(name, src=0)
    return Path(tempfile.gettempdir()) / name[0]


def rank_batches(per_epoch: int, accumulation: int, world_size: int) -> int:
    """Micro-batches one rank runs per epoch: every step's share, rounded up (padding).

    Example: 7 micro-batches in steps of 4 on 2 ranks -> steps [4, 3] -> 2 + 2 = 4.
    """
    full, rest = divmod(per_epoch, accumulation)
    return full * math.ceil(accumulation / world_size) + math.ceil(rest / world_size)


def shard_steps(batches: Sequence[dict], accumulation: int, rank: int,
                world_size: int) -> list[dict]:
    """Rank ``rank``'s micro-batches of one epoch: of each step's ``accumulation`` micro-batches
    (the last step may have fewer) those at ``rank``, ``rank + world_size``, ...; a rank left
    one short gets a copy of its step's first micro-batch whose ``labels`` are all -100 (so the
    Trainer's label count skips it) and whose real labels ride under ``PAD``.

    Written here because accelerate's sharding fills a short last step with repeated examples
    whose loss counts, so N processes would not take one process's steps.

    Example: steps [a b c d][e f g] on 2 ranks -> rank 0: a c e g, rank 1: b d f e(PAD).
    """
    if world_size == 1:
        return list(batches)
    out = []
    for start in range(0, len(batches), accumulation):
        step = batches[start:start + accumulation]
        mine = list(step[rank::world_size])
        if len(mine) < math.ceil(len(step) / world_size):
            labels = step[0]["labels"]
            mine.append({**step[0], "labels": torch.full_like(labels, IGNORE_INDEX),
                         PAD: labels})
        out += mine
    return out


class _Epochs:
    """A 'data loader' whose n-th iteration yields this rank's share of ``epoch_batches(n)``."""

    def __init__(self, epoch_batches: Callable[[int], list[dict]], per_epoch: int,
                 accumulation: int, rank: int, world_size: int) -> None:
        self._epoch_batches, self._epoch = epoch_batches, 0
        self._accumulation, self._rank, self._world = accumulation, rank, world_size
        self._per_epoch = rank_batches(per_epoch, accumulation, world_size)

    def __len__(self) -> int:
        return self._per_epoch

    def __iter__(self):
        batches = shard_steps(self._epoch_batches(self._epoch), self._accumulation, self._rank,
                              self._world)
        self._epoch += 1
        return iter(batches)


class BatchTrainer(AutocastMixin, Trainer):
    """A ``Trainer`` fed ready-made micro-batches, with our summed loss divided by the
    Trainer's count of the step's label items; bf16 autocast when ``precision="bf16"``
    (:mod:`.precision`).

    Under a launcher each rank runs its share of every step (module docstring); ``args``
    gets a per-rank ``gradient_accumulation_steps`` here (on a copy). While ``loss`` runs
    on a padding micro-batch ``self.padding`` is True (a loss that keeps counters skips it);
    its value is zeroed here whatever it returns. Evaluation (``eval_dataset``) goes through
    the same ``loss``: the Trainer's ``eval_loss`` is then the mean of the batches' means.
    """

    loss_is_scaled_for_ga = True

    def __init__(self, *, epoch_batches: Callable[[int], list[dict]], batches_per_epoch: int,
                 loss: Callable[[object, dict], object], precision: str = "fp32",
                 **kwargs) -> None:
        args = kwargs["args"]
        accumulation = args.gradient_accumulation_steps  # one step's micro-batches, one process
        self.world_size, self.rank = args.world_size, args.process_index
        if self.world_size > 1:  # a copy: the caller's args keep the one-process meaning
            kwargs["args"] = args = copy.copy(args)
            args.gradient_accumulation_steps = math.ceil(accumulation / self.world_size)
        super().__init__(**kwargs)
        self.model_accepts_loss_kwargs = True  # the Trainer counts label items for our loss
        self.precision, self.padding = precision, False
        self._loader = _Epochs(epoch_batches, batches_per_epoch, accumulation, self.rank,
                               self.world_size)
        self._loss = loss
        quiet(self)

    def get_train_dataloader(self):
        return self._loader

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        real_labels = inputs.pop(PAD, None)
        self.padding = real_labels is not None
        if self.padding:
            inputs = {**inputs, "labels": real_labels}
        value = self._loss(model, inputs)
        if num_items_in_batch is None:  # no label to count (never in our trainers)
            raise ValueError("BatchTrainer needs labels in every micro-batch")
        value = value / num_items_in_batch
        if self.padding:
            value = value * 0.0  # runs forward and backward (DDP syncs) but adds nothing
        if self.args.average_tokens_across_devices and self.world_size > 1:
            value = value * self.world_size  # the count is the whole step's, over every rank
        return (value, ()) if return_outputs else value
