"""Launch target for the data-parallel feedback test: learning from feedback (TRL KTO or DPO)
on a tiny Llama, unchanged.

Run alone (one process) or under ``torchrun --standalone --nproc_per_node 2`` or
``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU).
Every rank seeds its own copy of the same feedback (the feedback suite's known dataset: 6
ratings, 2 preference pairs) and trains with
:func:`core.finetune.preference.learn_from_feedback` into one shared data folder; every rank
writes ``OUT/rank<r>.json`` (its losses) and rank 0 ``OUT/result.json`` (the adapters in the
registry and the files of the new one).

    python tests/serve/ddp_feedback.py OUT kto|dpo
    torchrun --standalone --nproc_per_node 2 tests/serve/ddp_feedback.py OUT kto|dpo
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port 0 tests/serve/ddp_feedback.py OUT kto|dpo
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(out: Path, method: str) -> None:
    import torch
    from transformers import AutoTokenizer

    from core.adapters import AdapterRegistry
    from core.feedback.store import SQLFeedbackStore
    from core.finetune.preference import LearnConfig, learn_from_feedback
    from core.generation import Generator
    from core.loaders import load_causal_or_seq2seq
    from core.model_sources import BUILTINS, package_folder
    from core.settings import Settings
    from tests.feedback.conftest import seed
    from tests.tiny_models import build_tiny_llama

    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    b = BUILTINS["all-minilm-l6-v2"]
    tokenizer = AutoTokenizer.from_pretrained(package_folder(b.module, b.package) / "model")
    store = SQLFeedbackStore(f"sqlite:///{out / f'feedback-{rank}.sqlite3'}")
    seed(store)
    folder = out / f"model-{rank}"
    build_tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model, tok, seq2seq = load_causal_or_seq2seq(str(folder), Settings(device="cpu"))
    generator = Generator(model, tok, model_id="tiny-llama", device="cpu", is_seq2seq=seq2seq)
    settings = Settings(data_dir=out / "data")
    config = LearnConfig(adapter=f"fb-{method}", method=method, max_steps=3, learning_rate=5e-3,
                         batch_size=4 if method == "kto" else 2, min_ratings=4, min_pairs=2)
    result = learn_from_feedback(store, generator, settings, config)
    store.close()
    (out / f"rank{rank}.json").write_text(json.dumps({
        "losses": [r["loss"] for r in result.losses], "train_loss": result.train_loss}))
    if rank == 0:
        (out / "result.json").write_text(json.dumps({
            "world_size": int(os.environ.get("WORLD_SIZE", "1")), "method": result.method,
            "adapters": sorted(a["name"] for a in AdapterRegistry.of(settings).list()),
            "files": sorted(p.name for p in Path(result.path).iterdir()),
            "hidden": sorted(p.name for p in (out / "data" / "adapters").iterdir()
                             if p.name.startswith("."))}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
