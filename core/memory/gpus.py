"""Common GPUs, which of them an estimate fits on, and the largest batch/sequence that fits.

Capacities are the nominal memory sizes (GiB, the binary unit the chips are built in); the
usable amount is a little lower (ECC, driver reservations), which the estimate's stated
overhead covers only in part. The search relies on memory growing monotonically with batch
and sequence length (true of every formula in :mod:`core.memory.formulas`).

Example:
    >>> [g.name for g in GPUS][:2]
    ['T4 16 GB', 'L4 24 GB']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import UserError
from core.memory.estimate import GIB, EstimateConfig, estimate, with_changes
from core.memory.params import ParamCount


@dataclass(frozen=True)
class GPU:
    name: str
    gib: float

    @property
    def bytes(self) -> float:
        return self.gib * GIB


GPUS = (GPU("T4 16 GB", 16), GPU("L4 24 GB", 24), GPU("A10 24 GB", 24),
        GPU("RTX 4090 24 GB", 24), GPU("A100 40 GB", 40), GPU("A100 80 GB", 80),
        GPU("H100 80 GB", 80), GPU("H200 141 GB", 141))


def gpu_by_name(name: str) -> GPU:
    for g in GPUS:
        if g.name.lower() == name.lower() or g.name.lower().startswith(name.lower() + " "):
            return g
    raise UserError(f"unknown GPU {name!r}; known: {', '.join(g.name for g in GPUS)}")


def fits_on(total_bytes: float) -> list[dict[str, Any]]:
    """One row per GPU: does ``total_bytes`` fit, and the headroom in GiB (negative = short)."""
    return [{"gpu": g.name, "capacity_gib": g.gib, "fits": total_bytes <= g.bytes,
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
