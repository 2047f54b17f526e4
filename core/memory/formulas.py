"""The memory formulas, each a small function with its source, shared by estimate and tests.

Byte counts only; choosing which components apply to a mode is :mod:`core.memory.estimate`'s
job. Every constant is named where it is used, with the paper or documentation it comes from.

Example (KV cache per token, Llama-3.1-8B in fp16: 32 layers, 8 KV heads of 128 dims)::

    2 (K and V) x 32 x 8 x 128 x 2 bytes = 131,072 bytes = 128 KiB per token
"""

from __future__ import annotations

from core.memory.arch import Arch
from core.memory.params import ParamCount

#: Bytes per parameter of the stored weights.
DTYPE_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
#: NF4 quantization constants with double quantization, in bits per parameter:
#: 8-bit block constants per 64 weights + fp32 second-level constants per 256 blocks.
NF4_DQ_CONST_BITS = 8 / 64 + 32 / (64 * 256)  # = 0.127 bits/param
#: Optimizer state bytes per trainable parameter.
OPTIMIZER_BYTES = {"adamw": 8, "adamw8bit": 2, "sgd": 4}
#: fp32 master copy of the weights kept by mixed-precision training.
MASTER_BYTES = 4

SRC_QLORA = ("Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs, §3 "
             "(NF4, blocksize 64, double quantization: 0.127 bits/param of constants)")
SRC_INT8 = ("Dettmers et al. 2022, LLM.int8(): int8 weights with one fp32 absmax scale per "
            "row; bitsandbytes keeps embeddings, lm_head and norms in 16-bit")
SRC_ZERO = ("Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion "
            "Parameter Models, §3.1: mixed-precision Adam = 2+2+12 = 16 bytes/param")
SRC_ADAM8 = "Dettmers et al. 2022, 8-bit Optimizers via Block-wise Quantization: 2 bytes/param"
SRC_SGD = "PyTorch torch.optim.SGD(momentum>0): one fp32 momentum buffer = 4 bytes/param"
SRC_KORTHIKANTI = ("Korthikanti et al. 2022, Reducing Activation Recomputation in Large "
                   "Transformer Models, Eq. 1: s*b*h*(34 + 5*a*s/h) bytes per layer (16-bit)")
SRC_FLASH = ("Dao et al. 2022, FlashAttention (PyTorch SDPA): the a*s*s score/softmax/dropout "
             "tensors are not stored, dropping the 5*a*s/h term")
SRC_KV = "KV cache: 2 (K,V) x layers x kv_heads x head_dim x seq x batch x bytes"
SRC_LORA = ("Hu et al. 2021, LoRA: r*(d_in+d_out) trainable params per adapted matrix; peft "
            "keeps adapters in fp32 (autocast_adapter_dtype=True)")
SRC_OVERHEAD = ("framework overhead: CUDA context + cuBLAS workspace (outside "
                "torch.cuda.memory_allocated; 0 on CPU) plus a fraction of the rest for "
                "allocator fragmentation and caching")


def weight_bytes(pc: ParamCount, dtype: str, unquantized: str = "bf16") -> tuple[float, str]:
    """Bytes of the stored weights and the formula used.

    int8/int4 compress only the block weight matrices (``pc.matrix``); embeddings, the output
    head, norms and biases stay at ``unquantized`` (16-bit on GPU backends).
    """
    if dtype in ("fp32", "fp16", "bf16"):
        b = DTYPE_BYTES[dtype]
        return pc.total * b, f"{pc.total:,} params x {b:g} B"
    rest = pc.total - pc.matrix
    ub = DTYPE_BYTES[unquantized]
    if dtype == "int8":
        value = pc.matrix * 1 + pc.matrix_rows * 4 + rest * ub
        return value, (f"{pc.matrix:,} matrix params x 1 B + {pc.matrix_rows:,} rows x 4 B "
                       f"scale + {rest:,} other params x {ub:g} B")
    per = 0.5 + NF4_DQ_CONST_BITS / 8
    return pc.matrix * per + rest * ub, (
        f"{pc.matrix:,} matrix params x (4 + 0.127) bits / 8 + {rest:,} other params x {ub:g} B")


def kv_cache_bytes(a: Arch, seq: int, batch: int, elem_bytes: float) -> float:
    """Decoder KV cache; encoder-decoders add cross-attention K/V over the encoder sequence."""
    if a.kind == "encoder":
        return 0.0
    per_token = 2 * a.layers * a.kv_heads * a.head_dim * elem_bytes
    blocks = 2 if a.kind == "encoder-decoder" else 1  # self + cross attention caches
    return blocks * per_token * seq * batch


def layer_activation_bytes(a: Arch, seq: int, batch: int, elem_bytes: float,
                           flash: bool, score_bytes: float = 0) -> float:
    """Korthikanti et al. Eq. 1 for one layer, scaled from 16-bit to ``elem_bytes``.

    ``score_bytes`` sizes the a*s*s attention tensors separately (default: ``elem_bytes``);
    PyTorch's math SDPA path on CPU computes them in fp32 even for 16-bit models.
    """
    body = seq * batch * a.hidden * 34 * elem_bytes / 2
    scores = 0 if flash else 5 * a.heads * seq * seq * batch * (score_bytes or elem_bytes) / 2
    return body + scores


def training_activation_bytes(a: Arch, seq: int, batch: int, elem_bytes: float, flash: bool,
                              checkpointing: bool, score_bytes: float = 0,
                              ) -> tuple[float, str, float, str]:
    """(stored, formula, backward workspace, formula) for one training step.

    Stored: Korthikanti et al. Eq. 1 per layer (their layer: GPT with a 4h MLP and dropout;
    for LoRA an upper bound, since frozen linears do not keep their inputs) + the fp32
    log-probs the LM loss keeps (4sbV). Workspace: while a layer runs backward its activation
    gradients sit next to the stored tensors (about one layer), and at the start of backward
    the log-probs' and the logits' gradients are alive together (2 x 4sbV).
    """
    layer = layer_activation_bytes(a, seq, batch, elem_bytes, flash, score_bytes)
    n = a.total_layers
    term = "34" if flash else "34 + 5*a*s/h"
    if checkpointing:  # layer inputs kept, one layer recomputed at a time
        stored = n * 2 * seq * batch * a.hidden * elem_bytes / 2 + layer
        text = f"{n} layers x 2*s*b*h + one recomputed layer s*b*h*({term})"
    else:
        stored = n * layer
        text = f"{n} layers x s*b*h*({term})"
    text += f" (x {elem_bytes:g}/2 B)"
    lm = 0 if a.kind == "encoder" else 4 * seq * batch * a.vocab
    if lm:
        text += " + 4*s*b*V fp32 log-probs"
    ws_text = "one layer s*b*h*(" + term + ") of activation gradients" + (
        " + 2 x 4*s*b*V logits/log-prob gradients" if lm else "")
    return stored + lm, text, layer + 2 * lm, ws_text


def inference_activation_bytes(a: Arch, seq: int, batch: int, elem_bytes: float,
                               flash: bool) -> tuple[float, str]:
    """Workspace of a no-grad forward: one layer's tensors alive at a time + last logits."""
    layer = layer_activation_bytes(a, seq, batch, elem_bytes, flash)
    logits = 0 if a.kind == "encoder" else 4 * batch * a.vocab
    return layer + logits, "one layer s*b*h*(34) x bytes/2 + 4*b*V fp32 last-token logits"
