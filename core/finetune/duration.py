"""Before a run: how many steps it takes and about how long (training time; the memory a run
needs is :mod:`core.memory.estimate`), from the throughput measured here.

Steps: the examples are encoded exactly as training encodes them
(:func:`core.finetune.data.encode_examples`). An unsupervised chunk longer than ``max_length``
tokens is cut into ``ceil(tokens / max_length)`` windows so no fact is dropped; a smaller max
length therefore gives more, shorter windows and more steps for the same tokens. With packing
(the default) the windows are packed into full rows (:mod:`core.finetune.packing`), and
``steps = ceil(rows / batch_size) * epochs``.

Epochs: as set, or, for a time-budgeted run (epochs 0), as many optimiser steps as
``budget x tokens/s / tokens per step`` (:func:`budget_steps`; the last epoch may be partial);
training measures its own rate again when it starts.

Time: ``seconds = training tokens / training tokens per second``, where training tokens are
the tokens that carry loss (labels != -100) times epochs, and the rate is measured on this
machine with this model: the last run's rate (every run records it:
:mod:`core.finetune.throughput`), or a probe of one training example
(:func:`measure_throughput`) when no run has been measured yet. Left out: loading the
training copy of the model, and generator-made paraphrases (counted as templates of the same number;
making them takes extra minutes).

Example (known answer, packing off): one chunk of 100 tokens, max length 16, batch 4,
2 epochs -> ceil(100 / 16) = 7 windows -> ceil(7 / 4) = 2 steps per epoch -> 4 steps; 200
training tokens at 50 tokens/s -> 4 s.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

from core import access
from core.finetune.config import LoraSettings
from core.finetune.data import count_target_tokens, encode_examples
from core.finetune.packing import pack_features
from core.finetune.pipeline import build_examples, kb_chunks
from core.finetune.throughput import (
    MAX_BUDGET_EPOCHS,
    Throughput,
    budget_steps,
    estimate_seconds,
    load_throughput,
    record_throughput,
)
from core.finetune.train import train_lora
from core.training.callbacks import TrainingHooks
from core.training.copy import training_copy


@dataclass(frozen=True)
class Plan:
    """What a run will do, counted before it starts; ``seconds`` is None without a rate.

    ``windows`` are the encoded examples (a long text cut into max-length windows); ``rows``
    what a step batches: the packed rows when packing, else the windows. ``epochs`` is None
    when a time-budgeted run has no measured rate yet.
    """

    chunks: int
    examples: int
    windows: int
    rows: int
    steps_per_epoch: int
    total_steps: int | None
    tokens_per_epoch: int
    row_tokens_per_epoch: int = 0
    throughput: Throughput | None = None
    budget_minutes: float | None = None
    held_out: int = 0

    @property
    def epochs(self) -> float | None:
        """Epochs the steps make (a budgeted run's last one may be partial)."""
        if self.total_steps is None:
            return None
        return round(self.total_steps / max(1, self.steps_per_epoch), 1)

    @property
    def train_tokens(self) -> int | None:
        if self.total_steps is None:
            return None
        return round(self.tokens_per_epoch * self.total_steps / max(1, self.steps_per_epoch))

    @property
    def seconds(self) -> float | None:
        if self.throughput is None or self.train_tokens is None:
            return None
        return estimate_seconds(self.train_tokens, self.throughput.tokens_per_second)

    def explain(self, lora: LoraSettings) -> str:
        """How the settings give the step count, in one paragraph (Markdown)."""
        packed = (f"packed into **{self.rows} rows** of {lora.max_length} tokens"
                  if self.rows != self.windows else "one per row")
        text = (f"{self.chunks} chunks → {self.examples} examples → **{self.windows} windows** "
                f"of at most {lora.max_length} tokens (a longer text is cut into several "
                f"windows, so a *smaller* max length gives *more* windows), {packed} → "
                f"⌈{self.rows} / batch size {lora.batch_size}⌉ = {self.steps_per_epoch} "
                f"steps per epoch, {self.tokens_per_epoch:,} training tokens per epoch.")
        if self.budget_minutes is not None:
            if self.epochs is None:
                return text + (f" Time budget {self.budget_minutes:g} min: the number of "
                               "epochs is set from the speed measured when training starts.")
            rate = self.throughput.row_tokens_per_second if self.throughput else 0.0
            text += (f" Time budget {self.budget_minutes:g} min × {rate:,.0f} tokens/s "
                     f"computed ÷ {self.row_tokens_per_epoch // max(1, self.steps_per_epoch):,}"
                     f" tokens computed per step → **{self.epochs:g} epochs**"
                     f" (at most {MAX_BUDGET_EPOCHS}; fewer if the {self.held_out} held-out "
                     "questions stop improving)")
        return text + f" → **{self.total_steps} steps**, {self.train_tokens:,} training tokens."


def count_plan(examples, tokenizer, lora: LoraSettings, *, is_seq2seq: bool, chunks: int,
               throughput: Throughput | None = None, held_out: int = 0) -> Plan:
    """Count windows, rows, epochs, steps and training tokens exactly as :func:`train_lora`
    will (a budgeted run's epochs from the recorded rate)."""
    features = encode_examples(examples, tokenizer, max_length=lora.max_length,
                               is_seq2seq=is_seq2seq)
    packed = lora.packing and not is_seq2seq
    rows = len(pack_features(features, lora.max_length, 0)) if packed else len(features)
    per_epoch_tokens = count_target_tokens(features)
    row_tokens = (rows * lora.max_length if packed
                  else sum(len(f["input_ids"]) for f in features))
    per_epoch = math.ceil(rows / lora.batch_size)
    total: int | None = per_epoch * lora.epochs if lora.epochs else None
    if not lora.epochs and throughput is not None and throughput.row_tokens_per_second > 0:
        total = budget_steps(lora.minutes * 60, throughput.row_tokens_per_second,
                             row_tokens / per_epoch, per_epoch)
    return Plan(chunks=chunks, examples=len(examples), windows=len(features), rows=rows,
                steps_per_epoch=per_epoch, total_steps=total,
                tokens_per_epoch=per_epoch_tokens, row_tokens_per_epoch=row_tokens,
                throughput=throughput,
                budget_minutes=None if lora.epochs else lora.minutes, held_out=held_out)


def _examples(settings, kb: str, lora: LoraSettings, tokenizer, is_seq2seq: bool,
              documents: set[str] | None = None):
    chunks = kb_chunks(settings, kb, documents)
    return chunks, build_examples(settings, lora, chunks, tokenizer, is_seq2seq,
                                  paraphrase_method="templates")


def plan_run(settings, kb: str, lora: LoraSettings, tokenizer, *, is_seq2seq: bool,
             documents: set[str] | None = None) -> Plan:
    """The plan for training on ``kb`` with the generator's ``tokenizer`` (not modified)."""
    chunks, data = _examples(settings, kb, lora, tokenizer, is_seq2seq, documents)
    return count_plan(data.train, tokenizer, lora, is_seq2seq=is_seq2seq, chunks=len(chunks),
                      throughput=load_throughput(settings), held_out=len(data.held_out))


def measure_throughput(settings, kb: str, lora: LoraSettings, *,
                       actor: access.Actor | None = None) -> Throughput:
    """Train one micro-batch (full packed rows) of ``kb``'s examples on a fresh training copy;
    record the rate. ``actor`` must be allowed ``train`` (None: the process's actor, see
    core.access).

    The first step of a run is its slowest (allocations, warm-up), so the estimate errs long.
    """
    access.require(actor, "train")
    model, tokenizer = training_copy(settings.generator_model, settings)
    is_seq2seq = bool(model.config.is_encoder_decoder)
    _, data = _examples(settings, kb, lora, tokenizer, is_seq2seq)
    stop = threading.Event()  # stop after the first micro-batch: one measured forward+backward
    result = train_lora(model, tokenizer, data.train, replace(lora, epochs=1),
                        is_seq2seq=is_seq2seq, hooks=TrainingHooks(
                            micro_batch=lambda done, total: stop.set(), cancel=stop))
    return record_throughput(settings, result.tokens_per_second, "probe", lora,
                             result.row_tokens_per_second)
