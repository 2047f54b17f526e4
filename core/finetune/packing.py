"""Sequence packing: several short training texts in one row, each attending only to itself.

Padding short examples to a batch's longest wastes the matmuls on pad tokens; packing fills
every row up to ``max_length`` with whole examples (first-fit decreasing bin packing, so no
example is split) and restarts ``position_ids`` at 0 for each of them. Passed with
``position_ids`` and no ``attention_mask``, transformers (5.x ``masking_utils``,
``find_packed_sequence_indices``) builds a block-diagonal causal mask, so each example sees
only its own tokens, exactly as if it were alone in its row. The first label of every packed
example is -100: unpacked, a sequence's first token is never predicted either (a causal LM
predicts token *i* from tokens < *i*). Hence packed and unpacked token losses are equal
(tested), and every token the CPU computes carries loss. A tail that fits no example is a pad
segment with its own positions and -100 labels.

Example:
    >>> rows = pack_features([{"input_ids": [1, 2, 3], "labels": [1, 2, 3]},
    ...                       {"input_ids": [4, 5], "labels": [4, 5]}], max_length=6, pad_id=0)
    >>> rows[0]["input_ids"], rows[0]["position_ids"], rows[0]["labels"]
    ([1, 2, 3, 4, 5, 0], [0, 1, 2, 0, 1, 0], [-100, 2, 3, -100, 5, -100])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.finetune.data import IGNORE_INDEX


def pack_features(features: Sequence[dict[str, list]], max_length: int,
                  pad_id: int) -> list[dict[str, list]]:
    """Rows of exactly ``max_length`` tokens, each holding whole features (longest first)."""
    order = sorted(range(len(features)), key=lambda i: -len(features[i]["input_ids"]))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        size = len(features[i]["input_ids"])
        if size > max_length:
            raise ValueError(f"feature {i} has {size} tokens > max_length {max_length}")
        for b, free in enumerate(room):
            if size <= free:
                bins[b].append(i)
                room[b] -= size
                break
        else:
            bins.append([i])
            room.append(max_length - size)
    rows = []
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in members:
            f = features[i]
            ids += f["input_ids"]
            labels += [IGNORE_INDEX, *f["labels"][1:]]
            positions += list(range(len(f["input_ids"])))
        used = len(ids)
        pad = max_length - used
        ids += [pad_id] * pad
        labels += [IGNORE_INDEX] * pad
        positions += list(range(pad))
        rows.append({"input_ids": ids, "labels": labels, "position_ids": positions,
                     "used": used})
    return rows


def stack_rows(rows: Sequence[dict[str, list]]) -> dict[str, torch.Tensor]:
    """Packed rows as a model batch (no attention mask: the positions define the blocks)."""
    return {key: torch.tensor([r[key] for r in rows])
            for key in ("input_ids", "labels", "position_ids")}


def packing_efficiency(rows: Sequence[dict[str, list]]) -> float:
    """Share of row tokens that are real (not padding): 1.0 = nothing wasted."""
    total = sum(len(r["input_ids"]) for r in rows)
    return sum(r["used"] for r in rows) / total if total else 0.0
