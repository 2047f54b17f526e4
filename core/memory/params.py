"""Exact parameter counts from a config: analytically and by building the model on ``meta``.

Both methods split the total into token/position embeddings, the untied output head, the
weight matrices inside the blocks (what 8/4-bit quantization compresses) and the rest (norms,
biases, MoE routers), and list every ``nn.Linear``/``Conv1D`` by leaf name so LoRA's trainable
parameters can be counted the way peft matches ``target_modules``. Tied embeddings are counted
once; Mixture-of-Experts models report total and active (``num_experts_per_tok`` experts per
token) parameters. The meta build costs no memory: tensors have shapes and no storage.

Worked example (GPT-2, config n_embd=768, n_layer=12, vocab 50257, 1024 positions)::

    wte 50257*768 = 38,597,376; wpe 1024*768 = 786,432
    per block: ln_1 2*768 + c_attn 768*2304+2304 + c_proj 768*768+768 + ln_2 2*768
               + c_fc 768*3072+3072 + c_proj 3072*768+768 = 7,087,872
    12 blocks 85,054,464 + ln_f 1,536 (+ lm_head tied to wte: 0) = 124,439,808
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.errors import UserError
from core.memory.arch import Arch, arch_from_config, model_type_of


@dataclass(frozen=True)
class Linear:
    """``count`` linear modules named ``name`` (leaf name, as peft matches) of one shape."""

    name: str
    fan_in: int
    fan_out: int
    count: int


@dataclass(frozen=True)
class ParamCount:
    total: int
    active: int
    embedding: int  # token, position, token-type embeddings and T5 relative attention bias
    head: int  # untied output projection (0 when tied to the input embedding)
    matrix: int  # weight matrices inside the blocks: what int8/int4 quantization compresses
    other: int  # norms, biases, MoE routers
    linears: tuple[Linear, ...]
    method: str  # "analytic" or "meta"

    @property
    def matrix_rows(self) -> int:
        """Output rows of the quantizable linear weights (one int8 scale per row)."""
        return sum(lin.fan_out * lin.count for lin in self.linears)

    def linear_counts(self) -> Counter:
        """Multiset ``{(name, fan_in, fan_out): count}``, for comparing two counts."""
        out: Counter = Counter()
        for lin in self.linears:
            out[(lin.name, lin.fan_in, lin.fan_out)] += lin.count
        return out


def count_params(cfg: dict[str, Any]) -> ParamCount:
    """Analytic count from config facts (see the module docstring for a worked example)."""
    a = arch_from_config(cfg)
    return {"llama": _llama, "gpt2": _gpt2, "bert": _bert, "t5": _t5}[a.family](a)


def _finish(a: Arch, emb: int, head: int, lins: list[Linear], other: int,
            experts: int = 0) -> ParamCount:
    matrix = sum(lin.fan_in * lin.fan_out * lin.count for lin in lins) + experts
    total = emb + head + matrix + other
    active = total
    if a.experts:
        active -= experts // a.experts * (a.experts - a.experts_per_tok)
    merged: dict[tuple, int] = {}
    for lin in lins:
        key = (lin.name, lin.fan_in, lin.fan_out)
        merged[key] = merged.get(key, 0) + lin.count
    return ParamCount(total, active, emb, head, matrix, other,
                      tuple(Linear(*k, c) for k, c in merged.items()), "analytic")


def _llama(a: Arch) -> ParamCount:
    h, n, q, kv = a.hidden, a.layers, a.heads * a.head_dim, a.kv_heads * a.head_dim
    if a.model_type == "phi3":  # fused projections: same parameters, different module names
        lins = [Linear("qkv_proj", h, q + 2 * kv, n), Linear("o_proj", q, h, n)]
    else:
        lins = [Linear("q_proj", h, q, n), Linear("k_proj", h, kv, n),
                Linear("v_proj", h, kv, n), Linear("o_proj", q, h, n)]
    other = n * a.norms_per_layer * h + h  # RMSNorm weights per layer + final norm
    other += n * ((q + 2 * kv) * a.qkv_bias + h * a.o_bias)
    experts = 0
    if a.experts:  # Mixtral: E experts of 3 matrices (3D parameters) + a router h x E
        experts = n * a.experts * 3 * h * a.intermediate
        other += n * a.experts * h
    elif a.model_type == "phi3":
        lins += [Linear("gate_up_proj", h, 2 * a.intermediate, n),
                 Linear("down_proj", a.intermediate, h, n)]
    else:
        lins += [Linear("gate_proj", h, a.intermediate, n),
                 Linear("up_proj", h, a.intermediate, n),
                 Linear("down_proj", a.intermediate, h, n)]
        other += n * (2 * a.intermediate + h) * a.mlp_bias
    head = 0 if a.tied else a.vocab * h  # lm_head: a Linear, but kept unquantized
    return _finish(a, a.vocab * h, head, lins, other, experts)


def _gpt2(a: Arch) -> ParamCount:
    h, n, i = a.hidden, a.layers, a.intermediate
    lins = [Linear("c_attn", h, 3 * h, n), Linear("c_proj", h, h, n), Linear("c_fc", h, i, n),
            Linear("c_proj", i, h, n)]
    other = n * (4 * h + 3 * h + h + i + h) + 2 * h  # 2 LayerNorms, biases; ln_f
    return _finish(a, a.vocab * h + a.max_positions * h, 0 if a.tied else a.vocab * h,
                   lins, other)


def _bert(a: Arch) -> ParamCount:
    h, n, i = a.hidden, a.layers, a.intermediate
    lins = [Linear("query", h, h, n), Linear("key", h, h, n), Linear("value", h, h, n),
            Linear("dense", h, h, n + 1), Linear("dense", h, i, n), Linear("dense", i, h, n)]
    other = n * (4 * h + 2 * h + i + h + 2 * h) + 2 * h  # biases, 2 LayerNorms; embedding LN
    other += h  # pooler bias (pooler dense weight is the extra h x h "dense" above)
    emb = (a.vocab + a.max_positions + a.type_vocab) * h
    return _finish(a, emb, 0, lins, other)


def _t5(a: Arch) -> ParamCount:
    d, inner, ff = a.hidden, a.heads * a.head_dim, a.intermediate
    enc, dec = a.encoder_layers, a.layers
    attn = enc + 2 * dec  # encoder self, decoder self + cross attention blocks
    lins = [Linear(nm, d, inner, attn) for nm in ("q", "k", "v")] + [Linear("o", inner, d, attn)]
    ffn = enc + dec
    if a.gated:
        lins += [Linear("wi_0", d, ff, ffn), Linear("wi_1", d, ff, ffn)]
    else:
        lins += [Linear("wi", d, ff, ffn)]
    lins += [Linear("wo", ff, d, ffn)]
    other = (2 * enc + 3 * dec + 2) * d  # T5LayerNorm (weight only) per sub-layer + 2 final
    emb = a.vocab * d + 2 * a.rel_buckets * a.heads  # shared + relative bias (enc, dec)
    return _finish(a, emb, 0 if a.tied else a.vocab * d, lins, other)


def _auto_class(kind: str):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return {"decoder": AutoModelForCausalLM, "encoder": AutoModel,
            "encoder-decoder": AutoModelForSeq2SeqLM}[kind]


def build_config(cfg: dict[str, Any]):
    """A transformers ``PretrainedConfig`` from a config dict (no download)."""
    from transformers import AutoConfig

    mt = model_type_of(cfg)
    rest = {k: v for k, v in cfg.items() if k not in ("model_type", "transformers_version")}
    try:
        return AutoConfig.for_model(mt, **rest)
    except (ValueError, TypeError, KeyError) as exc:
        raise UserError(f"transformers cannot build model_type {mt!r}: {exc}") from exc


def count_meta(cfg: dict[str, Any]) -> ParamCount:
    """Count by building the model on the ``meta`` device (no memory) and walking it.

    transformers 5 always ties T5's ``lm_head`` to ``shared``, although Flan-T5 checkpoints
    ship an untied head (``tie_word_embeddings: false``); the config's word wins here.
    """
    import torch
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    a = arch_from_config(cfg)
    with torch.device("meta"):
        model = _auto_class(a.kind).from_config(build_config(cfg))
    emb_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head_w = getattr(getattr(model, "lm_head", None), "weight", None)
    lin_params: dict[int, tuple[str, int, int]] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear | Conv1D) and mod.weight is not head_w:
            fan_in, fan_out = (mod.weight.shape if isinstance(mod, Conv1D)
                               else mod.weight.shape[::-1])
            lin_params[id(mod.weight)] = (name.rsplit(".", 1)[-1], int(fan_in), int(fan_out))
    emb = head = matrix = other = experts = 0
    for p in model.parameters():
        n = p.numel()
        if id(p) in emb_ids:
            emb += n
        elif head_w is not None and p is head_w:
            head += n
        elif id(p) in lin_params:
            matrix += n
        elif p.ndim == 3:  # stacked expert weights (Mixtral)
            matrix += n
            experts += n
        else:
            other += n
    if head_w is not None and id(head_w) in emb_ids and not a.tied:
        head += head_w.numel()
    lins = Counter(lin_params.values())
    total = emb + head + matrix + other
    active = total - (experts // a.experts * (a.experts - a.experts_per_tok) if a.experts else 0)
    return ParamCount(total, active, emb, head, matrix, other,
                      tuple(Linear(nm, i, o, c) for (nm, i, o), c in lins.items()), "meta")
