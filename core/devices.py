"""Device and dtype choice: CUDA when present (bf16 where supported, else fp16), else CPU fp32.

Pure policy over what torch reports; it loads no model. MPS is used only when asked for
explicitly or, with ``auto``, when CUDA is absent and MPS is available.

Example:
    >>> pick_device("cpu")
    DeviceChoice(device='cpu', dtype_name='float32', name='CPU')
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import UserError


@dataclass(frozen=True)
class DeviceChoice:
    """Where models run and in which floating-point dtype."""

    device: str
    dtype_name: str
    name: str

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype_name)


def _cuda_choice() -> DeviceChoice:
    # bf16 needs compute capability >= 8.0 (Ampere); older cards (T4, V100) get fp16.
    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return DeviceChoice("cuda", dtype, torch.cuda.get_device_name(0))


def pick_device(requested: str = "auto") -> DeviceChoice:
    """Resolve ``auto|cpu|cuda|mps`` to a concrete device; raise if the one asked for is absent."""
    if requested == "cpu":
        return DeviceChoice("cpu", "float32", "CPU")
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise UserError("NLPLAB_DEVICE=cuda but torch sees no CUDA device (CPU-only torch?)")
        return _cuda_choice()
    if requested == "mps":
        if not torch.backends.mps.is_available():
            raise UserError("NLPLAB_DEVICE=mps but MPS is not available on this machine")
        return DeviceChoice("mps", "float16", "Apple MPS")
    if requested != "auto":
        raise UserError(f"device must be auto|cpu|cuda|mps, got {requested!r}")
    if torch.cuda.is_available():
        return _cuda_choice()
    if torch.backends.mps.is_available():
        return DeviceChoice("mps", "float16", "Apple MPS")
    return DeviceChoice("cpu", "float32", "CPU")


def device_status(choice: DeviceChoice) -> dict[str, object]:
    """What the home page and `info` show: device, dtype, and GPU memory when there is one."""
    status: dict[str, object] = {"device": choice.device, "dtype": choice.dtype_name,
                                 "name": choice.name, "torch": torch.__version__}
    if choice.device == "cuda":
        free, total = torch.cuda.mem_get_info()
        status["gpu_memory_total_gb"] = round(total / 1e9, 2)
        status["gpu_memory_free_gb"] = round(free / 1e9, 2)
    return status
