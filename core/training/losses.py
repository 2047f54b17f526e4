"""Causal-LM loss computed only where there is a label: the vocabulary projection skipped
for prompt and padding positions.

Why our own: a transformers causal LM projects *every* position onto the vocabulary and takes
the softmax there, then ignores the positions labelled -100. For a small model the projection
is a large share of the work (SmolLM2-135M: a 576 x 49,152 matrix, 28M of its 135M
parameters, and a 49,152-wide fp32 softmax per position), and in question-answer rows most
positions are prompt. :func:`labelled_lm_loss` runs the decoder, keeps the hidden states whose
*next* token has a label, and projects only those: the same mean cross-entropy (tested equal
to ``model(**batch).loss``), less compute. Models whose logits are post-processed (Gemma-2's
final soft-capping) or that have no separate decoder / output embedding use the model's own
loss.

Example:
    >>> loss = labelled_lm_loss(model, {"input_ids": ids, "labels": labels})  # doctest: +SKIP
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


def _parts(model):
    """(decoder, output projection) of a (peft-wrapped) causal LM, or None."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(inner, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return None
    if getattr(config, "final_logit_softcapping", None) is not None:
        return None
    try:
        decoder, head = inner.get_decoder(), inner.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if decoder is None or head is None or decoder is inner:
        return None
    return decoder, head


def labelled_lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over positions whose label is not -100."""
    parts = _parts(model)
    if parts is None:
        return model(**batch, use_cache=False).loss
    decoder, head = parts
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    hidden = decoder(**inputs, use_cache=False).last_hidden_state
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    logits = head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), target[keep])
