"""The measured training rate: kept per model for the next estimate, and turned into steps.

Every knowledge fine-tuning run records its rate (training tokens/s, and row tokens/s: every
position computed) in ``<data dir>/finetune/throughput.json``; :mod:`core.finetune.duration`
reads it to estimate a run's time before it starts, and a time-budgeted run
(:mod:`core.finetune.train`) turns its own measured rate into optimiser steps with
:func:`budget_steps`. Left out: measuring (training does it) and planning a run's steps.

Example:
    >>> budget_steps(600, 300.0, 2048, 20)  # 180,000 tokens / 2,048 per step
    87
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import write_text_atomic
from core.finetune.config import LoraSettings


@dataclass(frozen=True)
class Throughput:
    """Training tokens per second measured with ``model`` at ``max_length``."""

    tokens_per_second: float
    source: str  # "last run" or "probe"
    model: str
    max_length: int
    micro_batch_size: int
    measured_at: float
    row_tokens_per_second: float = 0.0  #: every computed position per second (the budget's)


MAX_BUDGET_EPOCHS = 60


def budget_steps(seconds: float, tokens_per_second: float, tokens_per_step: float,
                 steps_per_epoch: int, *, cap: int = MAX_BUDGET_EPOCHS) -> int:
    """Optimiser steps that fit ``seconds`` at the measured rate: at least one epoch (every
    example seen once), at most ``cap`` epochs; the last epoch may be partial.

    Example: 600 s x 300 tokens/s = 180,000 tokens / 2,048 per step -> 87 steps (4.35 epochs
    of 20 steps).
    """
    if tokens_per_second <= 0 or tokens_per_step <= 0:
        return steps_per_epoch
    steps = int(seconds * tokens_per_second // tokens_per_step)
    return max(steps_per_epoch, min(cap * steps_per_epoch, steps))


def estimate_seconds(train_tokens: int, tokens_per_second: float) -> float:
    """Example: 200 tokens at 50 tokens/s -> 4.0."""
    if tokens_per_second <= 0:
        raise ValueError(f"tokens_per_second must be > 0, got {tokens_per_second}")
    return train_tokens / tokens_per_second


def throughput_path(settings) -> Path:
    return settings.data_dir / "finetune" / "throughput.json"


def record_throughput(settings, tokens_per_second: float, source: str,
                      lora: LoraSettings, row_tokens_per_second: float = 0.0) -> Throughput:
    """Keep the latest measured rate of ``settings.generator_model`` for the next estimate."""
    rate = Throughput(round(tokens_per_second, 2), source, settings.generator_model,
                      lora.max_length, lora.micro_batch_size, time.time(),
                      round(row_tokens_per_second, 2))
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
