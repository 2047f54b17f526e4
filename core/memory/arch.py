"""Normalise a model's ``config.json`` into the architecture facts the estimator needs.

Four families are understood field by field (Llama-like decoders incl. Mistral, Mixtral, Qwen2,
Gemma/Gemma-2 and Phi-3; GPT-2; BERT/RoBERTa encoders; T5 encoder-decoders). Every size field
is validated: a missing, non-integer, zero or negative value raises :class:`UserError` naming
the field. This module counts nothing: see :mod:`core.memory.params`.

Example:
    >>> a = arch_from_config({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768,
    ...                        "n_layer": 12, "n_head": 12, "n_positions": 1024})
    >>> (a.family, a.hidden, a.intermediate, a.tied)
    ('gpt2', 768, 3072, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import UserError

LLAMA_LIKE = {"llama", "mistral", "mixtral", "qwen2", "gemma", "gemma2", "phi3"}
ENCODERS = {"bert", "roberta"}
FAMILIES = {**{t: "llama" for t in LLAMA_LIKE}, "gpt2": "gpt2", "bert": "bert",
            "roberta": "bert", "t5": "t5"}
_ARCH_PREFIX = {"Llama": "llama", "Mistral": "mistral", "Mixtral": "mixtral", "Qwen2": "qwen2",
                "Gemma2": "gemma2", "Gemma": "gemma", "Phi3": "phi3", "GPT2": "gpt2",
                "Bert": "bert", "Roberta": "roberta", "T5": "t5"}
#: Largest value any size field may take (guards typos such as 4096000000 layers).
MAX_SIZE = 10_000_000


@dataclass(frozen=True)
class Arch:
    """Architecture facts; ``layers`` counts decoder layers (encoder layers for encoders)."""

    model_type: str
    family: str  # llama | gpt2 | bert | t5
    kind: str  # decoder | encoder | encoder-decoder
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool
    max_positions: int
    encoder_layers: int = 0
    experts: int = 0
    experts_per_tok: int = 0
    type_vocab: int = 0
    rel_buckets: int = 0
    gated: bool = True
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    norms_per_layer: int = 2

    @property
    def total_layers(self) -> int:
        return self.layers + self.encoder_layers


def _size(cfg: dict[str, Any], name: str, default: Any = None, *, minimum: int = 1) -> int:
    value = cfg.get(name, default)
    if value is None:
        raise UserError(f"config.json field {name!r} is missing (needed for "
                        f"model_type {cfg.get('model_type')!r})")
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise UserError(f"config.json field {name!r} must be a whole number, got {value!r}")
    if not minimum <= int(value) <= MAX_SIZE:
        raise UserError(f"config.json field {name!r} must be between {minimum} and "
                        f"{MAX_SIZE:,}, got {value!r}")
    return int(value)


def model_type_of(cfg: dict[str, Any]) -> str:
    """``model_type``, or one inferred from ``architectures`` (e.g. LlamaForCausalLM -> llama)."""
    if not isinstance(cfg, dict):
        raise UserError(f"config.json must be a JSON object, got {type(cfg).__name__}")
    mt = cfg.get("model_type")
    if isinstance(mt, str) and mt:
        return mt
    for arch in cfg.get("architectures") or []:
        for prefix, name in sorted(_ARCH_PREFIX.items(), key=lambda kv: -len(kv[0])):
            if isinstance(arch, str) and arch.startswith(prefix):
                return name
    raise UserError("config.json has neither 'model_type' nor a known 'architectures' entry: "
                    "is this a transformers config.json?")


def arch_from_config(cfg: dict[str, Any]) -> Arch:
    """Validated :class:`Arch` for a config dict; UserError names any bad or missing field."""
    mt = model_type_of(cfg)
    family = FAMILIES.get(mt)
    if family is None:
        raise UserError(f"unknown architecture model_type {mt!r}: supported are "
                        f"{', '.join(sorted(FAMILIES))}")
    cfg = {**cfg, "model_type": mt}
    if family == "llama":
        return _llama(cfg, mt)
    if family == "gpt2":
        h = _size(cfg, "n_embd")
        heads = _size(cfg, "n_head")
        inner = cfg.get("n_inner") or 4 * h
        _check_divides(h, heads, "n_embd", "n_head")
        return Arch(mt, family, "decoder", _size(cfg, "vocab_size"), h,
                    _size({"n_inner": inner}, "n_inner"), _size(cfg, "n_layer"), heads, heads,
                    h // heads, bool(cfg.get("tie_word_embeddings", True)),
                    _size(cfg, "n_positions", 1024), qkv_bias=True, o_bias=True,
                    mlp_bias=True, gated=False)
    if family == "bert":
        h = _size(cfg, "hidden_size")
        heads = _size(cfg, "num_attention_heads")
        _check_divides(h, heads, "hidden_size", "num_attention_heads")
        return Arch(mt, family, "encoder", _size(cfg, "vocab_size"), h,
                    _size(cfg, "intermediate_size"), _size(cfg, "num_hidden_layers"), heads,
                    heads, h // heads, True, _size(cfg, "max_position_embeddings", 512),
                    type_vocab=_size(cfg, "type_vocab_size", 2), qkv_bias=True, o_bias=True,
                    mlp_bias=True, gated=False)
    proj = cfg.get("feed_forward_proj", "relu")
    if not isinstance(proj, str):
        raise UserError(f"config.json field 'feed_forward_proj' must be a string, got {proj!r}")
    enc = _size(cfg, "num_layers")
    return Arch(mt, family, "encoder-decoder", _size(cfg, "vocab_size"), _size(cfg, "d_model"),
                _size(cfg, "d_ff"), _size(cfg, "num_decoder_layers", enc),
                _size(cfg, "num_heads"), _size(cfg, "num_heads"), _size(cfg, "d_kv"),
                bool(cfg.get("tie_word_embeddings", True)),
                _size(cfg, "n_positions", 512), encoder_layers=enc,
                rel_buckets=_size(cfg, "relative_attention_num_buckets", 32),
                gated=proj.startswith("gated-"))


def _check_divides(h: int, heads: int, h_name: str, heads_name: str) -> None:
    if h % heads:
        raise UserError(f"config.json field {h_name!r} ({h}) must be divisible by "
                        f"{heads_name!r} ({heads})")


def _llama(cfg: dict[str, Any], mt: str) -> Arch:
    h = _size(cfg, "hidden_size")
    heads = _size(cfg, "num_attention_heads")
    kv = _size(cfg, "num_key_value_heads", heads)
    if heads % kv:
        raise UserError(f"config.json field 'num_attention_heads' ({heads}) must be a multiple "
                        f"of 'num_key_value_heads' ({kv})")
    if cfg.get("head_dim") is None:
        _check_divides(h, heads, "hidden_size", "num_attention_heads")
    head_dim = _size(cfg, "head_dim", h // heads)
    experts = _size(cfg, "num_local_experts", 0, minimum=0) if mt == "mixtral" else 0
    per_tok = _size(cfg, "num_experts_per_tok", 2) if experts else 0
    if per_tok > experts:
        raise UserError(f"config.json field 'num_experts_per_tok' ({per_tok}) exceeds "
                        f"'num_local_experts' ({experts})")
    attn_bias = bool(cfg.get("attention_bias", False))
    return Arch(mt, "llama", "decoder", _size(cfg, "vocab_size"), h,
                _size(cfg, "intermediate_size"), _size(cfg, "num_hidden_layers"), heads, kv,
                head_dim, bool(cfg.get("tie_word_embeddings", mt in ("gemma", "gemma2"))),
                _size(cfg, "max_position_embeddings", 4096), experts=experts,
                experts_per_tok=per_tok, qkv_bias=attn_bias or mt == "qwen2", o_bias=attn_bias,
                mlp_bias=bool(cfg.get("mlp_bias", False)),
                norms_per_layer=4 if mt == "gemma2" else 2)
