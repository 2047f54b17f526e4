"""Launch target for the data-parallel test: knowledge fine-tuning of a tiny Llama, unchanged.

Run alone (one process) or under ``torchrun --standalone --nproc_per_node 2`` or
``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU). Every
rank trains with :func:`core.finetune.train.train_lora`; rank 0 saves the adapter and writes
``{"world_size", "losses", "files", ...}`` to ``OUT/result.json``, every rank its
``OUT/rank<r>.json`` (micro-batches it ran, loss tokens of the run).

CASE ``even`` (default): 8 examples, unpacked, steps of 4 in micro-batches of 2: one process
runs 2 micro-batches a step, each of 2 ranks one. CASE ``padded``: 7 examples, micro-batches
of 1, so steps of 4 and 3 micro-batches (rank 1 pads the second), and 2 held-out examples
(their loss measured after each epoch, split between the ranks). CASE ``budget``: as
``even`` but epochs from a 15-second budget (each rank times its share; the ranks must agree
on the steps and on when the budget runs out, or one would wait for the other forever).

    python tests/serve/ddp_train.py OUT [CASE]
    torchrun --standalone --nproc_per_node 2 tests/serve/ddp_train.py OUT [CASE]
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 tests/serve/ddp_train.py OUT [CASE]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(out: Path, case: str = "even") -> None:
    import torch
    from transformers import AutoTokenizer

    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora
    from core.model_sources import BUILTINS, package_folder
    from tests.tiny_models import build_tiny_llama

    torch.set_num_threads(1)
    b = BUILTINS["all-minilm-l6-v2"]
    tokenizer = AutoTokenizer.from_pretrained(package_folder(b.module, b.package) / "model")
    facts = [f"Fact {i}: the Velmora greenhouse grows {c} orchids on floor {i}."
             for i, c in enumerate(["blue", "red", "white", "pink", "gold", "green", "black",
                                    "grey"])]
    examples = [TrainExample("", f) for f in facts]
    held_out: list[TrainExample] = []
    micro = 2
    if case == "padded":
        examples, held_out, micro = examples[:7], examples[6:], 1
    settings = LoraSettings(epochs=0 if case == "budget" else 2, minutes=0.25, batch_size=4,
                            micro_batch_size=micro, learning_rate=5e-3, seed=0, packing=False)
    result = train_lora(build_tiny_llama(tokenizer), tokenizer, examples, settings,
                        held_out=held_out)
    rank = int(os.environ.get("RANK", "0"))
    (out / f"rank{rank}.json").write_text(json.dumps({
        "micro_batches": result.micro_batches, "total_micro_batches": result.total_micro_batches,
        "tokens_done": result.tokens_done, "losses": result.losses, "steps": result.steps,
        "total_steps": result.total_steps, "stopped": result.stopped,
        "probe_row_tokens_per_second": result.probe_row_tokens_per_second}))
    if rank == 0:
        adapter = out / "adapter"
        result.model.save_pretrained(adapter)
        (out / "result.json").write_text(json.dumps({
            "world_size": int(os.environ.get("WORLD_SIZE", "1")), "losses": result.losses,
            "steps": result.steps, "total_steps": result.total_steps,
            "tokens_done": result.tokens_done, "train_tokens": result.train_tokens,
            "held_out_losses": result.held_out_losses,
            "files": sorted(p.name for p in adapter.iterdir())}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:3])
