"""Knowledge fine-tuning runs unchanged data-parallel: two CPU processes (gloo) started by
`torchrun` or by `accelerate launch` split the work of one process and reach the same result.

The `accelerate launch` command (``ACCELERATE`` below) needs ``--multi_gpu`` even on CPU: it
is accelerate's one route that starts the processes itself (``torch.distributed.run``); the
script's ``use_cpu`` then picks MULTI_CPU with gloo. ``--cpu --num_processes 2`` without an
MPI hostfile starts one plain process (world size 1: accelerate's multi-CPU route is
``mpirun``). No config file is read (HOME and HF_HOME point to an empty folder), so no
prompt, and ``--main_process_port 0`` takes a free port. The even case and DPO run under both
launchers with the same assertions; the single-process run of each case is made once.

What each run holds constant and shows (tests/serve/ddp_train.py has the two cases):

- the global batch (4 examples a step) and so the optimiser steps: 2 per epoch, 4 in all, in
  one process and in two;
- each rank runs its share of every step's micro-batches: ``even`` 4 of one process's 8,
  ``padded`` 4 per epoch of its 7, rank 1 running one padding micro-batch whose loss is zeroed;
- the logged loss is the whole step's (the mean over ranks of their share x world size): the
  first step, before any update, is the single-process loss to float rounding, and every
  later one lies within 5 % of the single run's loss drop of it (a step counted twice, a loss
  not scaled, or an unsharded loader lands far outside);
- the loss tokens counted are the run's, not one rank's; the held-out loss, split between the
  ranks, matches; the adapter files are the same.

Feedback learning (TRL's DPO and KTO, tests/serve/ddp_feedback.py) under the same launcher:
``batch_size`` is the global batch, split between the ranks; one adapter is saved, by rank 0,
with nothing half-written left behind. DPO's losses match the single run to float rounding;
KTO's are only checked to be the same on every rank (accelerate fills an epoch's short last
batch by repeating examples, and KTO pairs each completion with another prompt's within one
process's batch, so its later steps legitimately differ from one process).

The adapter weights themselves are not compared: on this tiny model Adam's first steps move a
near-zero gradient by the learning rate whatever its sign, so float rounding alone (one
process, micro-batches of 1 instead of 2) changes lora_B by up to 40 %.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs start torch and train (about 2 to 3 minutes on 2 busy cores)

SERVE = Path(__file__).resolve().parents[1] / "serve"  # the torchrun scripts stay there
SCRIPT = SERVE / "ddp_train.py"
FEEDBACK_SCRIPT = SERVE / "ddp_feedback.py"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TORCHRUN = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2"]
ACCELERATE = [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", "0"]
LAUNCHERS = {"torchrun": TORCHRUN, "accelerate": ACCELERATE}


def run(cmd: list[str], out: Path, case: str, script: Path = SCRIPT) -> tuple[dict, list[dict]]:
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if cmd[0] == ACCELERATE[0]:  # no default config file of this machine may steer the launch
        home = out / "home"
        env.update(HOME=str(home), HF_HOME=str(home / "hf"))
    done = subprocess.run([*cmd, str(script), str(out), case], capture_output=True, text=True,
                          timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]
    return json.loads((out / "result.json").read_text()), ranks


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The one-process run of a (script, case), made once for both launchers."""
    done: dict[tuple[str, str], tuple[dict, list[dict]]] = {}

    def get(case: str, script: Path = SCRIPT) -> tuple[dict, list[dict]]:
        if (script.name, case) not in done:
            out = tmp_path_factory.mktemp(f"single-{script.stem}-{case}") / "run"
            done[script.name, case] = run([sys.executable], out, case, script)
        return done[script.name, case]
    return get


@pytest.mark.parametrize(("case", "single_micro", "rank_micro", "launcher"),
                         [("even", 8, 4, "torchrun"), ("padded", 14, 8, "torchrun"),
                          ("even", 8, 4, "accelerate")])
def test_two_process_gloo_training_splits_the_work_and_matches_one_process(
        tmp_path, single_run, case, single_micro, rank_micro, launcher):
    single, (alone,) = single_run(case)
    ddp, ranks = run(LAUNCHERS[launcher], tmp_path / "ddp", case)
    print(f"\n{case} losses: one process {single['losses']}, {launcher} x2 {ddp['losses']}")
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    assert ddp["files"] == single["files"]
    assert "adapter_model.safetensors" in ddp["files"]
    assert (single["steps"], ddp["steps"]) == (4, 4)
    assert len(ddp["losses"]) == len(single["losses"]) == 4
    for a, b in zip(single["losses"], ddp["losses"], strict=True):
        assert abs(a - b) <= 0.05 * abs(a), (single["losses"], ddp["losses"])
    drop = single["losses"][0] - single["losses"][-1]
    assert drop > 0.05, single["losses"]  # it learns, so the comparison below means something
    assert abs(ddp["losses"][0] - single["losses"][0]) <= 1e-4
    for a, b in zip(single["losses"], ddp["losses"], strict=True):
        assert abs(a - b) <= 0.05 * drop, (single["losses"], ddp["losses"])
    assert alone["micro_batches"] == single_micro
    assert [r["micro_batches"] for r in ranks] == [rank_micro, rank_micro]
    assert [r["total_micro_batches"] for r in ranks] == [rank_micro, rank_micro]
    assert ranks[0]["losses"] == ranks[1]["losses"] == ddp["losses"]  # every rank logs the same
    assert ddp["tokens_done"] == single["tokens_done"] > 0
    assert len(ddp["held_out_losses"]) == len(single["held_out_losses"])
    for a, b in zip(single["held_out_losses"], ddp["held_out_losses"], strict=True):
        assert abs(a - b) <= 0.05 * drop
    if case == "padded":
        assert len(single["held_out_losses"]) == 3  # before training and after each epoch
        assert ddp["held_out_losses"][0] == pytest.approx(single["held_out_losses"][0], abs=1e-4)


def test_a_time_budget_gives_every_rank_the_same_plan_and_stop(tmp_path):
    """Each rank times its own share before training: the rate is summed over the ranks, so
    they plan the same steps; the budget's stop is agreed each step. A disagreement would
    leave one rank waiting in the gradient all-reduce: the run would not finish."""
    ddp, ranks = run(TORCHRUN, tmp_path / "ddp", "budget")
    assert "adapter_model.safetensors" in ddp["files"]
    keys = ("steps", "total_steps", "stopped", "probe_row_tokens_per_second", "losses")
    first, second = ({k: r[k] for k in keys} for r in ranks)
    assert first == second
    assert first["probe_row_tokens_per_second"] > 0
    assert first["steps"] == len(first["losses"]) >= 2
    assert first["steps"] == first["total_steps"] or first["stopped"] == "time budget"


@pytest.mark.parametrize(("method", "launcher"),
                         [("dpo", "torchrun"), ("kto", "torchrun"), ("dpo", "accelerate")])
def test_feedback_learning_runs_data_parallel_and_saves_one_adapter(
        tmp_path, single_run, method, launcher):
    single, (alone,) = single_run(method, FEEDBACK_SCRIPT)
    ddp, ranks = run(LAUNCHERS[launcher], tmp_path / "ddp", method, FEEDBACK_SCRIPT)
    print(f"\n{method} losses: one process {alone['losses']}, {launcher} x2 {ranks[0]['losses']}")
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    assert ddp["method"] == single["method"] == method
    assert ddp["adapters"] == single["adapters"] == [f"fb-{method}"]
    assert ddp["files"] == single["files"] and "adapter_model.safetensors" in ddp["files"]
    assert ddp["hidden"] == []  # no temp folder of a second writer left behind
    assert ranks[0] == ranks[1]  # every rank logs the same (global) losses
    assert len(ranks[0]["losses"]) == len(alone["losses"]) == 3
    if method == "dpo":  # both pairs in every step, one per rank: the single run's steps
        for a, b in zip(alone["losses"], ranks[0]["losses"], strict=True):
            assert abs(a - b) <= 1e-3, (alone["losses"], ranks[0]["losses"])
        assert alone["losses"][-1] < alone["losses"][0] - 0.01  # it learns
