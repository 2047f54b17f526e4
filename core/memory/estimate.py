"""Memory estimate for inference, full fine-tuning, LoRA and QLoRA, component by component.

Components (weights, gradients, optimizer, activations, KV cache, overhead) are SUMMED: they
are all resident at the peak of a training step (or of a generation), not alternatives. Each
component comes with its formula and source in ``formulas``. What is left out: tensor/pipeline
parallelism, ZeRO sharding, paged optimizers, sliding-window cache truncation.

Worked example (mixed-precision AdamW, ZeRO §3.1): 2 B fp16 weights + 2 B fp16 gradients +
4 B fp32 master weights + 4 B momentum + 4 B variance = 16 bytes per parameter, so a 7B model
needs 112 GB before activations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.errors import UserError
from core.memory import formulas as F
from core.memory.arch import Arch, arch_from_config
from core.memory.params import ParamCount, count_params

DTYPES = ("fp32", "fp16", "bf16", "int8", "int4")
MODES = ("inference", "full", "lora", "qlora")
OPTIMIZERS = tuple(F.OPTIMIZER_BYTES)
COMPONENTS = ("weights", "gradients", "optimizer", "activations", "kv_cache", "overhead")
GIB = 1024**3
#: Short LoRA target names -> module leaf names, per family (anything else passes through).
TARGET_ALIASES = {
    "llama": {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj",
              "up": "up_proj", "down": "down_proj"},
    "phi3": {"q": "qkv_proj", "k": "qkv_proj", "v": "qkv_proj", "o": "o_proj",
             "gate": "gate_up_proj", "up": "gate_up_proj", "down": "down_proj"},
    "gpt2": {"q": "c_attn", "k": "c_attn", "v": "c_attn", "o": "c_proj", "up": "c_fc",
             "down": "c_proj"},
    "bert": {"q": "query", "k": "key", "v": "value"},
    "t5": {"up": "wi", "gate": "wi_0", "down": "wo"},
}


@dataclass(frozen=True)
class EstimateConfig:
    """What to estimate. Validation names the bad value (UserError)."""

    dtype: str = field(default="bf16", metadata={"help": "fp32|fp16|bf16|int8|int4"})
    mode: str = field(default="inference", metadata={"help": "inference|full|lora|qlora"})
    batch: int = field(default=1, metadata={"help": "sequences per step"})
    seq: int = field(default=2048, metadata={"help": "tokens per sequence"})
    optimizer: str = field(default="adamw", metadata={"help": "adamw|adamw8bit|sgd"})
    grad_checkpointing: bool = field(default=False, metadata={
        "help": "keep activations only at layer boundaries; recompute them in backward"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank r"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (the update is scaled by "
                                                          "alpha / r)"})
    lora_targets: tuple[str, ...] = field(default=("q", "v"), metadata={
        "help": "comma list: q,k,v,o,gate,up,down"})
    flash_attention: bool = field(default=True, metadata={"help": "SDPA: no s*s scores kept"})
    score_bytes: int = field(default=0, metadata={"help": "bytes of a*s*s tensors; 0=as acts"})
    context_bytes: int = field(default=512 * 1024**2, metadata={"help": "CUDA context; 0=CPU"})
    overhead_fraction: float = field(default=0.05, metadata={
        "help": "allocator fragmentation and workspace, as a fraction of the rest"})
    unquantized_dtype: str = field(default="bf16", metadata={"help": "non-matrix params"})

    def __post_init__(self) -> None:
        for name, allowed in (("dtype", DTYPES), ("mode", MODES), ("optimizer", OPTIMIZERS),
                              ("unquantized_dtype", ("fp32", "fp16", "bf16"))):
            if getattr(self, name) not in allowed:
                raise UserError(f"{name} must be one of {'|'.join(allowed)}, "
                                f"got {getattr(self, name)!r}")
        for name, hi in (("batch", 1_000_000), ("seq", 10_000_000), ("lora_r", 65_536),
                         ("lora_alpha", 1_000_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise UserError(f"{name} must be a whole number from 1 to {hi:,}, got {value!r}")
        if self.mode == "full" and self.dtype in ("int8", "int4"):
            raise UserError(f"full fine-tuning of {self.dtype} weights is not possible: "
                            "use --mode qlora (4-bit base + LoRA) or lora")
        if self.mode in ("lora", "qlora") and not [t for t in self.lora_targets if t.strip()]:
            raise UserError("lora_targets must name at least one module, e.g. q,v")
        if not 0 <= self.overhead_fraction <= 1 or self.context_bytes < 0:
            raise UserError("overhead_fraction must be in [0, 1] and context_bytes >= 0, got "
                            f"{self.overhead_fraction!r}, {self.context_bytes!r}")


@dataclass(frozen=True)
class Estimate:
    params_total: int
    params_trainable: int
    bytes: dict[str, float]
    formulas: list[dict[str, Any]]
    config: EstimateConfig
    details: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.bytes["total"]

    def to_dict(self) -> dict[str, Any]:
        """The CLI contract: params, bytes (integers), formulas."""
        return {"params": {"total": self.params_total, "trainable": self.params_trainable},
                "bytes": {k: round(v) for k, v in self.bytes.items()},
                "formulas": self.formulas, "config": asdict(self.config),
                "details": {k: round(v) for k, v in self.details.items()}}


def lora_targets(a: Arch, pc: ParamCount, targets: tuple[str, ...]) -> set[str]:
    """Leaf names that peft would adapt for these targets; UserError if one matches nothing."""
    aliases = TARGET_ALIASES.get(a.model_type if a.model_type == "phi3" else a.family, {})
    names = {lin.name for lin in pc.linears}
    out: set[str] = set()
    for t in (t.strip() for t in targets if t.strip()):
        leaf = aliases.get(t, t)
        if a.family == "t5" and t == "up":
            leaf = "wi_1" if a.gated else "wi"
        if leaf not in names:
            raise UserError(f"LoRA target {t!r} matches no linear layer of this model; "
                            f"its linear layers are: {', '.join(sorted(names))}")
        out.add(leaf)
    return out


def lora_param_count(a: Arch, pc: ParamCount, targets: tuple[str, ...], r: int) -> int:
    """r*(fan_in + fan_out) per adapted module (A: r x in, B: out x r), as peft counts."""
    leaves = lora_targets(a, pc, targets)
    return sum(r * (lin.fan_in + lin.fan_out) * lin.count for lin in pc.linears
               if lin.name in leaves)


def estimate(cfg_dict: dict[str, Any], ec: EstimateConfig,
             pc: ParamCount | None = None) -> Estimate:
    """Estimate every component for a config dict (see module docstring)."""
    a = arch_from_config(cfg_dict)
    pc = pc or count_params(cfg_dict)
    rows: list[dict[str, Any]] = []
    b: dict[str, float] = dict.fromkeys(COMPONENTS, 0.0)
    details: dict[str, float] = {}

    def add(component: str, value: float, formula: str, source: str) -> None:
        b[component] += value
        rows.append({"component": component, "bytes": round(value), "formula": formula,
                     "source": source})

    dtype = "int4" if ec.mode == "qlora" else ec.dtype
    compute = ec.dtype if ec.dtype in ("fp32", "fp16", "bf16") else ec.unquantized_dtype
    elem = F.DTYPE_BYTES[compute]
    w, text = F.weight_bytes(pc, dtype, ec.unquantized_dtype)
    src = {"int8": F.SRC_INT8, "int4": F.SRC_QLORA}.get(dtype, "parameters x bytes per param")
    add("weights", w, f"{dtype} weights: {text}", src)
    trainable = 0
    if ec.mode == "inference":
        kv = F.kv_cache_bytes(a, ec.seq, ec.batch, elem)
        add("kv_cache", kv, f"{F.SRC_KV} = 2 x {a.layers} x {a.kv_heads} x {a.head_dim} x "
            f"{ec.seq} x {ec.batch} x {elem:g} B" + (" x 2 (self + cross)"
                                                    if a.kind == "encoder-decoder" else ""),
            "transformers DynamicCache" if kv else "encoder-only: no KV cache")
        act, text = F.inference_activation_bytes(a, ec.seq, ec.batch, elem, ec.flash_attention)
        add("activations", act, text, F.SRC_KORTHIKANTI)
    else:
        if ec.mode == "full":
            trainable = pc.total
            mixed = compute != "fp32"
            add("gradients", trainable * elem, f"{trainable:,} x {elem:g} B", F.SRC_ZERO)
            opt = F.OPTIMIZER_BYTES[ec.optimizer] + (F.MASTER_BYTES if mixed else 0)
            src_opt = {"adamw": F.SRC_ZERO, "adamw8bit": F.SRC_ADAM8, "sgd": F.SRC_SGD}
            add("optimizer", trainable * opt,
                f"{trainable:,} x ({F.OPTIMIZER_BYTES[ec.optimizer]} B {ec.optimizer} states"
                + (" + 4 B fp32 master weights)" if mixed else ")"), src_opt[ec.optimizer])
        else:
            trainable = lora_param_count(a, pc, ec.lora_targets, ec.lora_r)
            add("weights", trainable * 4, f"{trainable:,} LoRA params x 4 B (fp32 adapters)",
                F.SRC_LORA)
            add("gradients", trainable * 4, f"{trainable:,} x 4 B fp32 adapter gradients",
                F.SRC_LORA)
            add("optimizer", trainable * F.OPTIMIZER_BYTES[ec.optimizer],
                f"{trainable:,} x {F.OPTIMIZER_BYTES[ec.optimizer]} B {ec.optimizer} states",
                F.SRC_LORA)
        stored, text, work, ws_text = F.training_activation_bytes(
            a, ec.seq, ec.batch, elem, ec.flash_attention, ec.grad_checkpointing, ec.score_bytes)
        if ec.mode in ("lora", "qlora") and elem != 4:
            # peft runs fp32 adapters on an fp32 copy of each adapted module's input, which
            # autograd keeps for lora_A's weight gradient.
            leaves = lora_targets(a, pc, ec.lora_targets)
            upcast = sum(seq_b * lin.fan_in * lin.count * 4 for lin in pc.linears
                         if lin.name in leaves for seq_b in [ec.seq * ec.batch])
            stored += upcast
            text += f" + fp32 adapter inputs s*b*d_in*4 per adapted module ({upcast:,.0f} B)"
        add("activations", stored, "stored for backward: " + text,
            F.SRC_KORTHIKANTI + ("; " + F.SRC_FLASH if ec.flash_attention else ""))
        add("activations", work, "backward workspace: " + ws_text,
            "our accounting of the tensors alive during backward")
        details["activations_stored"] = stored
    rest = sum(b.values())
    add("overhead", ec.context_bytes + ec.overhead_fraction * rest,
        f"{ec.context_bytes / 1024**2:g} MiB context + {ec.overhead_fraction:.0%} of the "
        "other components", F.SRC_OVERHEAD)
    b["total"] = sum(b[c] for c in COMPONENTS)
    return Estimate(pc.total, trainable, b, rows, ec, details)


def with_changes(ec: EstimateConfig, **changes: Any) -> EstimateConfig:
    """A copy of ``ec`` with fields changed (validated again)."""
    return replace(ec, **changes)
