"""Training precision: bf16 autocast where the hardware runs bf16 natively, else fp32.

Mixed precision as in Micikevicius et al. (2018), with bf16 instead of fp16 (no loss scaling:
bf16 has fp32's exponent range): weights, LoRA parameters, gradients and AdamW state stay in
fp32 ("master weights"); inside ``torch.autocast`` the matmuls run in bf16, which on a CPU
with AVX512-BF16 / AMX (oneDNN) or an Ampere+ GPU doubles the arithmetic rate and halves the
activations' memory traffic. ``auto`` picks bf16 when the device supports it.

Why a mixin rather than ``TrainingArguments(bf16=True)``: in transformers 5.23 the Trainer
leaves autocast to accelerate, which wraps the model's ``forward`` for good: the trained model
handed back kept computing in bf16 at inference (its logits no longer matched the saved
adapter's reload in fp32, measured). :class:`AutocastMixin` opens the autocast context around
``compute_loss`` only (the Trainer's own hook), so nothing outlives training.

Example:
    >>> resolve_precision("fp32", "cpu")
    'fp32'
    >>> resolve_precision("auto", "cpu") in ("fp32", "bf16")
    True
"""

from __future__ import annotations

import contextlib

from core.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16")


def bf16_supported(device_type: str) -> bool:
    """True when ``device_type`` ("cpu" or "cuda") runs bf16 matmuls natively."""
    import torch  # here, not at import: the CLI builds its parser without torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(probe()) if probe is not None else False
    return False


def resolve_precision(precision: str, device_type: str) -> str:
    """``auto`` -> ``bf16`` where supported else ``fp32``; an explicit choice is checked."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {'|'.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_supported(device_type) else "fp32"
    if precision == "bf16" and not bf16_supported(device_type):
        raise UserError(f"this {device_type.upper()} has no native bf16: use precision fp32 "
                        "(or auto)")
    return precision


def autocast(precision: str, device_type: str):
    """The forward-pass context for ``precision`` (bf16 autocast, or nothing for fp32)."""
    if precision == "bf16":
        import torch

        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class AutocastMixin:
    """For a ``Trainer`` subclass: run ``compute_loss`` under bf16 autocast when
    ``self.precision == "bf16"`` (fp32 master weights and optimiser state are untouched)."""

    precision: str = "fp32"

    def autocast_smart_context_manager(self, cache_enabled: bool | None = True):
        return autocast(self.precision, self.args.device.type)
