"""Launch target for the data-parallel test: knowledge fine-tuning of a tiny Llama, unchanged.

Run alone (one process) or under ``torchrun --standalone --nproc_per_node 2`` (gloo on CPU). Every
rank trains with :func:`core.finetune.train.train_lora`; rank 0 saves the adapter and writes
``{"world_size", "losses", "files"}`` to ``OUT/result.json``.

    python tests/serve/ddp_train.py OUT
    torchrun --standalone --nproc_per_node 2 tests/serve/ddp_train.py OUT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(out: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora
    from core.model_sources import BUILTINS, package_folder
    from tests.finetune.conftest import build_tiny_llama

    torch.set_num_threads(1)
    b = BUILTINS["all-minilm-l6-v2"]
    tokenizer = AutoTokenizer.from_pretrained(package_folder(b.module, b.package) / "model")
    facts = [f"Fact {i}: the Velmora greenhouse grows {c} orchids on floor {i}."
             for i, c in enumerate(["blue", "red", "white", "pink", "gold", "green", "black",
                                    "grey"])]
    settings = LoraSettings(epochs=2, batch_size=4, micro_batch_size=2, learning_rate=5e-3,
                            seed=0)
    result = train_lora(build_tiny_llama(tokenizer), tokenizer,
                        [TrainExample("", f) for f in facts], settings)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        adapter = out / "adapter"
        result.model.save_pretrained(adapter)
        (out / "result.json").write_text(json.dumps({
            "world_size": int(os.environ.get("WORLD_SIZE", "1")), "losses": result.losses,
            "files": sorted(p.name for p in adapter.iterdir())}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
