"""How BatchTrainer deals one epoch's micro-batches out to the ranks of a data-parallel run:
every step's micro-batches split by rank, the same count on every rank (padding marked, its
labels counting nothing), and nothing lost or run twice (besides the padding)."""

from __future__ import annotations

import pytest
import torch

from core.training.trainer import PAD, rank_batches, shard_steps


def _batch(name: str) -> dict:
    return {"n": name, "labels": torch.tensor([[1, 2, 3]])}


def _names(batches):
    return [b["n"] + ("*" if PAD in b else "") for b in batches]


def test_each_rank_takes_its_share_of_every_step_and_pads_a_short_one():
    batches = [_batch(n) for n in "abcdefg"]  # steps [a b c d] [e f g]
    assert _names(shard_steps(batches, 4, 0, 2)) == ["a", "c", "e", "g"]
    rank1 = shard_steps(batches, 4, 1, 2)
    assert _names(rank1) == ["b", "d", "f", "e*"]
    assert (rank1[-1]["labels"] == -100).all()  # the Trainer's label count skips it
    assert torch.equal(rank1[-1][PAD], batches[4]["labels"])  # the labels it runs on
    assert rank_batches(7, 4, 2) == 4


def test_one_process_gets_the_epoch_unchanged():
    batches = [_batch(n) for n in "abcde"]
    assert shard_steps(batches, 2, 0, 1) == batches
    assert rank_batches(5, 2, 1) == 5


@pytest.mark.parametrize(("count", "accumulation", "world"),
                         [(8, 4, 2), (7, 4, 2), (9, 3, 4), (5, 1, 3), (6, 4, 3), (1, 4, 2)])
def test_every_micro_batch_runs_once_and_the_ranks_step_together(count, accumulation, world):
    batches = [_batch(str(i)) for i in range(count)]
    shards = [shard_steps(batches, accumulation, r, world) for r in range(world)]
    per_rank = rank_batches(count, accumulation, world)
    assert [len(s) for s in shards] == [per_rank] * world  # the same count: no rank waits
    real = sorted(int(b["n"]) for s in shards for b in s if PAD not in b)
    assert real == list(range(count))
    # Each rank's j-th slice of a step (per-rank accumulation) comes from the same step.
    step_of = {str(i): i // accumulation for i in range(count)}
    rank_accumulation = -(-accumulation // world)
    for s in shards:
        for start in range(0, len(s), rank_accumulation):
            assert {step_of[b["n"]] for b in s[start:start + rank_accumulation]} == \
                {start // rank_accumulation}
