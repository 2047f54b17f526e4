"""`python -m core memory`: the estimator (and optionally a measurement) as JSON.

Example:
    $ python -m core memory --model meta-llama/Llama-3.1-8B --dtype bf16 --mode inference
    {"params": {"total": 8030261248, "trainable": 0}, "bytes": {"weights": 16060522496, ...},
     "formulas": [...]}
"""

from __future__ import annotations

from core.errors import UserError


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise UserError(f"expected a positive whole number, got {value}")
    return value


def _cmd_memory(args, settings):
    from core.memory.config_input import describe, from_file
    from core.memory.estimate import EstimateConfig, estimate
    from core.memory.gpus import fits_on

    batch, seq, r = (_positive(v) for v in (args.batch, args.seq, args.lora_r))
    if args.config:
        desc = from_file(args.config, max_mb=settings.max_upload_mb)
    else:
        desc = describe(args.model, settings.models_dir)
    targets = tuple(t.strip() for t in args.lora_targets.split(",") if t.strip())
    ec = EstimateConfig(dtype=args.dtype, mode=args.mode, batch=batch, seq=seq,
                        optimizer=args.optimizer, grad_checkpointing=args.grad_checkpointing,
                        lora_r=r, lora_alpha=2 * r if args.lora_alpha is None
                        else _positive(args.lora_alpha), lora_targets=targets)
    out = estimate(desc.config, ec).to_dict()
    out["model"] = {"name": desc.name, "source": desc.source}
    out["fits_on"] = [row["gpu"] for row in fits_on(out["bytes"]["total"]) if row["fits"]]
    if args.measure:
        from core.devices import pick_device
        from core.memory.measure import measure

        if not desc.location:
            raise UserError(f"--measure needs a model the app can load (builtin:... or a "
                            f"local folder), got {desc.name!r} from the {desc.source}")
        device = "cuda" if pick_device(settings.device).device == "cuda" else "cpu"
        result = measure(desc.config, desc.location, ec, device, settings.models_dir)
        out["measured"] = result["measured"] or {"reason": result["reason"]}
        if "comparison" in result:
            out["comparison"] = result["comparison"]
            out["measured_estimate_bytes"] = result["estimate"]["bytes"]
    return out


def register(sub) -> None:
    from core.cli import add_dataclass_options
    from core.memory.estimate import DTYPES, MODES, OPTIMIZERS, EstimateConfig

    d = EstimateConfig()
    p = sub.add_parser("memory", help="GPU memory estimate (and measurement) for a model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="catalog name/hub id, builtin:..., folder or hub id")
    src.add_argument("--config", help="path to a config.json")
    # numbers stay text here so _positive can refuse "-1" or "abc" with one line (UserError)
    add_dataclass_options(p, EstimateConfig, [
        "dtype", "mode", "batch", "seq", "optimizer", "grad_checkpointing", "lora_r",
        "lora_alpha", "lora_targets"], overrides={
        "dtype": {"required": True, "default": None, "choices": list(DTYPES)},
        "mode": {"required": True, "default": None, "choices": list(MODES)},
        "batch": {"type": None, "default": str(d.batch)},
        "seq": {"type": None, "default": str(d.seq)},
        "optimizer": {"choices": list(OPTIMIZERS)},
        "lora_r": {"type": None, "default": str(d.lora_r)},
        "lora_alpha": {"type": None, "default": None, "help": "default 2 x r"},
        "lora_targets": {"default": ",".join(d.lora_targets)}})
    p.add_argument("--measure", action="store_true",
                   help="also measure real memory (builtin:... models and local folders)")
    p.set_defaults(func=_cmd_memory)
