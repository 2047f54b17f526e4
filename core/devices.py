"""Device and dtype choice: CUDA when present (bf16 where supported, else fp16), else CPU fp32.

Pure policy over what torch and the CPU report; it loads no model. MPS is used only when asked
for explicitly or, with ``auto``, when CUDA is absent and MPS is available.

The *generator* (inference only) may use another dtype than training (:func:`generator_dtype`,
setting ``NLPLAB_GENERATOR_DTYPE=auto|float32|bfloat16|int8``). Decoding is bound by the weight
bytes read per token, so on a CPU with native bf16 instructions (AVX512-BF16 or AMX-BF16)
``auto`` picks ``int8``: int8 weights with bf16 activations (:mod:`core.quantization`), 2.4x
fp32 tok/s with multiple-choice accuracy and F1 within 0.02 of fp32 (docs/performance.md);
``bfloat16`` (1.4-1.6x) can be forced. Elsewhere CPUs keep fp32 (bf16 without those
instructions is emulated and slower); GPUs keep their own dtype.

Example:
    >>> pick_device("cpu")
    DeviceChoice(device='cpu', dtype_name='float32', name='CPU')
    >>> generator_dtype("auto", pick_device("cpu"), cpu_flags={"avx512_bf16"})
    'int8'
    >>> generator_dtype("auto", pick_device("cpu"), cpu_flags={"avx2"})
    'float32'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from core.errors import UserError
from core.settings import GENERATOR_DTYPES


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


#: /proc/cpuinfo flags that mean the CPU multiplies bf16 natively (oneDNN uses them).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where that file does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def generator_dtype(requested: str, choice: DeviceChoice, *,
                    cpu_flags: frozenset[str] | set[str] | None = None) -> str:
    """The generator's weight dtype: ``float32``, ``bfloat16``, ``float16`` or ``int8``.

    ``auto``: the device's own dtype on GPUs; on a CPU, int8 weights with bf16 activations
    when ``cpu_flags`` (default: this machine's) include native bf16 support, else fp32.
    ``int8`` is CPU only.
    Example: ``generator_dtype("float32", cuda_choice)`` -> ``'float32'`` (forced).
    """
    if requested not in GENERATOR_DTYPES:
        raise UserError(f"NLPLAB_GENERATOR_DTYPE must be one of {'|'.join(GENERATOR_DTYPES)}, "
                        f"got {requested!r}")
    if requested == "int8" and choice.device != "cpu":
        raise UserError(f"NLPLAB_GENERATOR_DTYPE=int8 (int8 weights, CPU kernel) runs on the CPU "
                        f"only; the device is {choice.device}")
    if requested != "auto":
        return requested
    if choice.device != "cpu":
        return choice.dtype_name
    flags = globals()["cpu_flags"]() if cpu_flags is None else cpu_flags
    return "int8" if BF16_CPU_FLAGS & set(flags) else "float32"


def device_status(choice: DeviceChoice) -> dict[str, object]:
    """What the home page and `info` show: device, dtype, and GPU memory when there is one."""
    status: dict[str, object] = {"device": choice.device, "dtype": choice.dtype_name,
                                 "name": choice.name, "torch": torch.__version__}
    if choice.device == "cuda":
        free, total = torch.cuda.mem_get_info()
        status["gpu_memory_total_gb"] = round(total / 1e9, 2)
        status["gpu_memory_free_gb"] = round(free / 1e9, 2)
    return status
