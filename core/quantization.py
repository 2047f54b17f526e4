"""Int8 weight-only generator layers: int8 weights, bf16 activations, torch's CPU kernel.

Decoding a 135M model on a CPU reads every weight once per token, so halving the bytes read
(bf16 -> int8, one scale per output channel: ``w ~= q * s``, ``s = max|w_row| / 127``) is what
speeds it up. :class:`Int8Linear` runs ``torch._weight_int8pack_mm`` (the int8 weight-only CPU
kernel gpt-fast uses) when a call has few rows (decoding), and a dequantised bf16 matmul for
prompts and large batches, where that kernel is slower. Own module, in one line why: torch.ao's
dynamic quantisation also quantises activations (next-token KL to fp32 1.09, top-1 agreement 46%
on SmolLM2-135M) and torchao 0.18 removed its fast CPU int8 weight-only path; this keeps KL at
0.007 (bf16 alone: 0.001). LoRA cannot attach to it, so :func:`dequantise` turns the layers an
adapter targets back into bf16 ``nn.Linear`` (the same values) before peft loads the adapter.

Example:
    >>> layer = Int8Linear.from_linear(torch.nn.Linear(64, 32))
    >>> layer(torch.randn(2, 64)).shape, layer(torch.randn(2, 64)).dtype
    (torch.Size([2, 32]), torch.float32)
"""

from __future__ import annotations

import torch

#: Rows (tokens x batch) up to which the int8 kernel beats bf16 matmul; measured on a 2-core
#: AVX512-BF16 CPU for a 576x1536 layer: 28 vs 65 us at 1 row, even at 8, 3x slower at 512.
KERNEL_MAX_ROWS = 8


class Int8Linear(torch.nn.Module):
    """A Linear layer holding int8 weights and per-row bf16 scales (module doc)."""

    def __init__(self, qweight: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = qweight.shape
        self.register_buffer("qweight", qweight)
        self.register_buffer("scales", scales)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> Int8Linear:
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
        qweight = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)
        return cls(qweight.contiguous(), scales.to(torch.bfloat16), bias)

    def to_linear(self) -> torch.nn.Linear:
        """The dequantised bf16 ``nn.Linear`` (weights ``q * s``)."""
        linear = torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                                 dtype=torch.bfloat16, device=self.qweight.device)
        with torch.no_grad():
            linear.weight.copy_(self.qweight.to(torch.bfloat16) * self.scales[:, None])
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(torch.bfloat16).contiguous()
        if flat.shape[0] <= KERNEL_MAX_ROWS:  # decoding: the int8 kernel reads half the bytes
            out = torch._weight_int8pack_mm(flat, self.qweight, self.scales)
        else:  # prompts, batches: compute-bound, where bf16 matmul is ~3x faster
            weight = self.qweight.to(torch.bfloat16) * self.scales[:, None]
            out = torch.nn.functional.linear(flat, weight)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantise(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in bf16 with every ``nn.Linear`` (output head included) an :class:`Int8Linear`;
    in place. Tied input embeddings stay bf16 (the head gets its own int8 copy)."""
    model.to(torch.bfloat16)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, Int8Linear.from_linear(child))
    if getattr(model.config, "tie_word_embeddings", False):
        model.config.tie_word_embeddings = False  # the head is no longer the embedding
    return model


def quantised_names(model: torch.nn.Module) -> list[str]:
    """Module paths of ``model``'s :class:`Int8Linear` layers."""
    return [name for name, module in model.named_modules() if isinstance(module, Int8Linear)]


def dequantise(model: torch.nn.Module, targets: list[str] | str) -> int:
    """Turn the :class:`Int8Linear` layers an adapter targets back into bf16 ``nn.Linear``.

    ``targets``: peft's ``target_modules`` (short names such as ``q_proj``, or
    ``"all-linear"``: every layer but the output head). Returns how many layers changed.
    """
    every = targets == "all-linear" or targets == ["all-linear"]
    wanted = set() if every else {t.rsplit(".", 1)[-1] for t in targets}
    changed = 0
    for name in quantised_names(model):
        short = name.rsplit(".", 1)[-1]
        if (every and short != "lm_head") or short in wanted:
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, short, model.get_submodule(name).to_linear())
            changed += 1
    return changed
