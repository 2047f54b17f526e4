"""Common GPUs, which of them an estimate fits on, and the largest batch/sequence that fits.

Names keep the size a card is sold as ("16 GB"); capacities are the bytes the card really
offers, as ``nvidia-smi --query-gpu=memory.total`` reports them (MiB): memory the driver
exposes after ECC and firmware carve-outs, so an estimate is compared with what a program can
actually get. The vendor figure is neither GB (10^9) nor usable GiB: a T4 sold as "16 GB" has
16 GiB of GDDR6 chips, 15 GiB of them usable with ECC on (not 16 x 10^9 bytes = 14.9 GiB);
an "80GB" H100 offers 79.6 GiB. A CUDA context takes a further few hundred MiB, which the
estimate's stated overhead covers only in part. The search relies on memory growing
monotonically with batch and sequence length (true of every formula in
:mod:`core.memory.formulas`).

Example:
    >>> [(g.name, g.gib) for g in GPUS][:2]
    [('T4 16 GB', 15.0), ('L4 24 GB', 22.49)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import UserError
from core.memory.estimate import GIB, EstimateConfig, estimate, with_changes
from core.memory.params import ParamCount

MIB = 2**20


@dataclass(frozen=True)
class GPU:
    name: str  # with the size the vendor sells it as
    bytes: int  # memory.total as nvidia-smi reports it
    source: str  # vendor data sheet for the sold size

    @property
    def gib(self) -> float:
        return round(self.bytes / GIB, 2)


# memory.total (MiB) as reported by nvidia-smi on each card (e.g. "Tesla T4, 15360 MiB").
GPUS = (
    GPU("T4 16 GB", 15360 * MIB,  # ECC on: 1 GiB of the 16 GiB GDDR6 holds ECC
        "NVIDIA T4 data sheet: 16 GB GDDR6"),
    GPU("L4 24 GB", 23034 * MIB, "NVIDIA L4 data sheet: 24GB GDDR6"),
    GPU("A10 24 GB", 23028 * MIB, "NVIDIA A10 data sheet: 24GB GDDR6"),
    GPU("RTX 4090 24 GB", 24564 * MIB, "NVIDIA GeForce RTX 4090 specifications: 24 GB GDDR6X"),
    GPU("A100 40 GB", 40960 * MIB, "NVIDIA A100 data sheet: 40GB HBM2"),
    GPU("A100 80 GB", 81920 * MIB, "NVIDIA A100 data sheet: 80GB HBM2e"),
    GPU("H100 80 GB", 81559 * MIB, "NVIDIA H100 data sheet (SXM): 80GB HBM3"),
    GPU("H200 141 GB", 143771 * MIB, "NVIDIA H200 data sheet: 141GB HBM3e"),
)


def gpu_by_name(name: str) -> GPU:
    for g in GPUS:
        if g.name.lower() == name.lower() or g.name.lower().startswith(name.lower() + " "):
            return g
    raise UserError(f"unknown GPU {name!r}; known: {', '.join(g.name for g in GPUS)}")


def fits_on(total_bytes: float) -> list[dict[str, Any]]:
    """One row per GPU: its usable GiB, does ``total_bytes`` fit, and the headroom in GiB
    (negative = short)."""
    return [{"gpu": g.name, "usable_gib": g.gib, "fits": total_bytes <= g.bytes,
             "headroom_gib": round((g.bytes - total_bytes) / GIB, 2)} for g in GPUS]


def largest_fitting(cfg: dict[str, Any], ec: EstimateConfig, gpu: GPU, vary: str,
                    pc: ParamCount | None = None, upper: int | None = None,
                    total: Callable[[EstimateConfig], float] | None = None) -> int:
    """Largest ``batch`` or ``seq`` (``vary``) whose estimate fits ``gpu``; 0 if even 1 fails.

    Doubling then bisection: about 2*log2(answer) estimates, each microseconds.
    """
    if vary not in ("batch", "seq"):
        raise UserError(f"vary must be batch or seq, got {vary!r}")
    upper = upper or (1_000_000 if vary == "batch" else 10_000_000)

    def size(n: int) -> float:
        changed = with_changes(ec, **{vary: n})
        return total(changed) if total else estimate(cfg, changed, pc).total

    if size(1) > gpu.bytes:
        return 0
    lo, hi = 1, 2
    while hi <= upper and size(hi) <= gpu.bytes:
        lo, hi = hi, hi * 2
    hi = min(hi, upper + 1)
    while hi - lo > 1:  # invariant: size(lo) fits, size(hi) does not (or hi > upper)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(mid) <= gpu.bytes else (lo, mid)
    return lo
