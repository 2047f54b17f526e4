"""Before a run: how many steps it takes and about how long, from throughput measured here.

Steps: the examples are encoded exactly as training encodes them
(:func:`core.finetune.data.encode_examples`). An unsupervised chunk longer than ``max_length``
tokens is cut into ``ceil(tokens / max_length)`` windows so no fact is dropped; a smaller max
length therefore gives more, shorter windows and more steps for the same tokens.
``steps = ceil(windows / batch_size) * epochs``.

Time: ``seconds = training tokens / training tokens per second``, where training tokens are
the tokens that carry loss (labels != -100) times epochs, and the rate is measured on this
machine with this model: the last run's rate (every run records it in
``<data dir>/finetune/throughput.json``), or a probe of one training example
(:func:`measure_throughput`) when no run has been measured yet. Left out: loading the training
copy of the model, and generator-made paraphrases (counted as templates of the same number;
making them takes extra minutes).

Example (known answer): one chunk of 100 tokens, max length 16, batch 4, 2 epochs ->
ceil(100 / 16) = 7 windows -> ceil(7 / 4) = 2 steps per epoch -> 4 steps; 200 training tokens
at 50 tokens/s -> 4 s.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core import access
from core.atomic import write_text_atomic
from core.finetune.config import LoraSettings
from core.finetune.data import count_target_tokens, encode_examples


@dataclass(frozen=True)
class Throughput:
    """Training tokens per second measured with ``model`` at ``max_length``."""

    tokens_per_second: float
    source: str  # "last run" or "probe"
    model: str
    max_length: int
    micro_batch_size: int
    measured_at: float


@dataclass(frozen=True)
class Plan:
    """What a run will do, counted before it starts; ``seconds`` is None without a rate."""

    chunks: int
    examples: int
    windows: int
    steps_per_epoch: int
    total_steps: int
    train_tokens: int
    throughput: Throughput | None = None

    @property
    def seconds(self) -> float | None:
        if self.throughput is None:
            return None
        return estimate_seconds(self.train_tokens, self.throughput.tokens_per_second)

    def explain(self, lora: LoraSettings) -> str:
        """How the settings give the step count, in one paragraph (Markdown)."""
        return (f"{self.chunks} chunks → {self.examples} examples → **{self.windows} windows** "
                f"of at most {lora.max_length} tokens (a longer text is cut into several "
                "windows, so a *smaller* max length gives *more* windows) → "
                f"⌈{self.windows} / batch size {lora.batch_size}⌉ = {self.steps_per_epoch} "
                f"steps per epoch × {lora.epochs} epochs = **{self.total_steps} steps**, "
                f"{self.train_tokens:,} training tokens.")


def estimate_seconds(train_tokens: int, tokens_per_second: float) -> float:
    """Example: 200 tokens at 50 tokens/s -> 4.0."""
    if tokens_per_second <= 0:
        raise ValueError(f"tokens_per_second must be > 0, got {tokens_per_second}")
    return train_tokens / tokens_per_second


def count_plan(examples, tokenizer, lora: LoraSettings, *, is_seq2seq: bool, chunks: int,
               throughput: Throughput | None = None) -> Plan:
    """Count windows, steps and training tokens exactly as :func:`train_lora` will."""
    features = encode_examples(examples, tokenizer, max_length=lora.max_length,
                               is_seq2seq=is_seq2seq)
    per_epoch = math.ceil(len(features) / lora.batch_size)
    return Plan(chunks=chunks, examples=len(examples), windows=len(features),
                steps_per_epoch=per_epoch, total_steps=per_epoch * lora.epochs,
                train_tokens=count_target_tokens(features) * lora.epochs, throughput=throughput)


def _examples(settings, kb: str, lora: LoraSettings, tokenizer, is_seq2seq: bool):
    from core.finetune.pipeline import build_examples, kb_chunks

    chunks = kb_chunks(settings, kb)
    examples, _ = build_examples(settings, lora, chunks, tokenizer, is_seq2seq,
                                 paraphrase_method="templates")
    return chunks, examples


def plan_run(settings, kb: str, lora: LoraSettings, tokenizer, *, is_seq2seq: bool) -> Plan:
    """The plan for training on ``kb`` with the generator's ``tokenizer`` (not modified)."""
    chunks, examples = _examples(settings, kb, lora, tokenizer, is_seq2seq)
    return count_plan(examples, tokenizer, lora, is_seq2seq=is_seq2seq, chunks=len(chunks),
                      throughput=load_throughput(settings))


def throughput_path(settings) -> Path:
    return settings.data_dir / "finetune" / "throughput.json"


def record_throughput(settings, tokens_per_second: float, source: str,
                      lora: LoraSettings) -> Throughput:
    """Keep the latest measured rate of ``settings.generator_model`` for the next estimate."""
    rate = Throughput(round(tokens_per_second, 2), source, settings.generator_model,
                      lora.max_length, lora.micro_batch_size, time.time())
    write_text_atomic(throughput_path(settings), json.dumps(asdict(rate)))
    return rate


def load_throughput(settings) -> Throughput | None:
    """The recorded rate, or None when none was measured with the current generator model."""
    try:
        data = json.loads(throughput_path(settings).read_text())
        rate = Throughput(**data)
    except (OSError, ValueError, TypeError):
        return None
    if rate.model != settings.generator_model or rate.tokens_per_second <= 0:
        return None
    return rate


def measure_throughput(settings, kb: str, lora: LoraSettings, *,
                       actor: access.Actor | None = None) -> Throughput:
    """Train one micro-batch of ``kb``'s longest example on a fresh training copy; record the
    rate. ``actor`` must be allowed ``train`` (None: the process's actor, see core.access).

    The first step of a run is its slowest (allocations, warm-up), so the estimate errs long.
    """
    from core.finetune.train import train_lora
    from core.training.callbacks import TrainingHooks
    from core.training.copy import training_copy

    access.require(actor, "train")
    model, tokenizer = training_copy(settings.generator_model, settings)
    is_seq2seq = bool(model.config.is_encoder_decoder)
    _, examples = _examples(settings, kb, lora, tokenizer, is_seq2seq)
    longest = max(examples, key=lambda e: len(e.prompt) + len(e.target))
    stop = threading.Event()  # stop after the first micro-batch: one measured forward+backward
    result = train_lora(model, tokenizer, [longest], replace(lora, epochs=1),
                        is_seq2seq=is_seq2seq, hooks=TrainingHooks(
                            micro_batch=lambda done, total: stop.set(), cancel=stop))
    return record_throughput(settings, result.tokens_per_second, "probe", lora)
