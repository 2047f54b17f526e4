"""Benchmark: 20 concurrent sessions asking in RAG mode, in-process model vs a model server.

Each session is a thread that asks its own questions through ``core.answering.answer`` (what
the Ask & compare page calls per column), one after another, all sessions at once. Twenty real
browsers would cost more CPU than the answers on a 2-core machine, so threads emulate the
sessions of one app process; everything below the page (retrieval with the shared embedder and
KnowledgeStore, prompt building, generation) is the app's own code path.

- in-process: the shared :class:`core.generation.Generator` (one model, one lock: answers
  run one at a time);
- server: ``NLPLAB_GENERATOR_URL`` pointing at ``transformers serve`` with continuous batching,
  running the same offline SmolLM2 folder on the same machine (so both share the same cores;
  on a GPU box the server would have the GPU and vLLM).

Both use the same default knowledge base, questions (test split) and ``max_new_tokens``, in one
run (server started before either is timed, warm-up answers excluded). Printed per backend:
answers/s (answers / wall time), p50 / p95 latency (per answer, retrieval + generation),
correct answers; then the server / in-process ratio of answers/s and p95.

    nice -n 5 .venv/bin/python bench/load.py                  # ~4-6 min on a busy 2-core box
    nice -n 5 .venv/bin/python bench/load.py --sessions 4 --per-session 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: p95 of 40 values is the 38th smallest."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def run_sessions(ctx, questions: list[dict], sessions: int, per_session: int) -> dict:
    from core.answering import RAG, answer
    from core.rag.defaults import is_correct

    latencies: list[float] = []
    correct = errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(sessions)

    def session(i: int) -> None:
        nonlocal correct, errors
        barrier.wait()
        for j in range(per_session):
            row = questions[(i * per_session + j) % len(questions)]
            start = time.perf_counter()
            try:
                result = answer(row["question"], RAG, ctx)
            except Exception as exc:  # counted and shown, never hidden
                with lock:
                    errors += 1
                print(f"  session {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            seconds = time.perf_counter() - start
            with lock:
                latencies.append(seconds)
                correct += is_correct(result["answer"], row)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"answers": len(latencies), "errors": errors, "wall_s": wall,
            "answers_per_s": len(latencies) / wall if wall else 0.0,
            "p50_s": statistics.median(latencies) if latencies else float("nan"),
            "p95_s": percentile(latencies, 95) if latencies else float("nan"),
            "correct": correct}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--per-session", type=int, default=2, help="questions each session asks")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    args = parser.parse_args()

    from core.answering import make_context, open_store
    from core.loaders import load_embedder, load_generator
    from core.model_server import start_transformers_serve, stop
    from core.model_sources import resolve
    from core.qa import load_qa_rows
    from core.rag.config import DEFAULT_KB
    from core.rag.defaults import ensure_default_kb
    from core.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="nlplab-load-"))
    os.environ.setdefault("NLPLAB_DATA_DIR", str(tmp / "data"))
    settings = load_settings()
    folder = resolve(settings.generator_model, settings.models_dir).location  # converts once
    store = open_store(settings, load_embedder(settings))
    ensure_default_kb(store)
    questions = load_qa_rows(split="test")
    proc, url = start_transformers_serve(folder, tmp / "serve.log", timeout=600)
    try:
        remote_settings = replace(settings, generator_url=url, generator_served_model=folder,
                                  generator_timeout=600.0)
        local_ctx = make_context(settings, DEFAULT_KB, modes=["rag"], store=store,
                                 max_new_tokens=args.max_new_tokens,
                                 generator=load_generator(settings))
        remote_ctx = make_context(remote_settings, DEFAULT_KB, modes=["rag"], store=store,
                                  max_new_tokens=args.max_new_tokens,
                                  generator=load_generator(remote_settings))
        from core.answering import RAG, answer

        for ctx in (local_ctx, remote_ctx):  # warm-up: first call costs, not timed
            answer(questions[-1]["question"], RAG, ctx)
        load = os.getloadavg()
        results = {}
        for name, ctx in (("in-process", local_ctx), ("server", remote_ctx)):
            results[name] = run_sessions(ctx, questions, args.sessions, args.per_session)
    finally:
        stop(proc)

    print(f"{args.sessions} sessions x {args.per_session} RAG questions, "
          f"max_new_tokens={args.max_new_tokens}, load before: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (cores: {os.cpu_count()})")
    print(f"{'backend':<11} {'answers':>7} {'errors':>6} {'wall s':>7} {'answers/s':>9} "
          f"{'p50 s':>7} {'p95 s':>7} {'correct':>7}")
    for name, r in results.items():
        print(f"{name:<11} {r['answers']:>7} {r['errors']:>6} {r['wall_s']:>7.1f} "
              f"{r['answers_per_s']:>9.3f} {r['p50_s']:>7.2f} {r['p95_s']:>7.2f} "
              f"{r['correct']:>7}")
    a, b = results["in-process"], results["server"]
    if a["answers_per_s"] and b["answers_per_s"]:
        print(f"server / in-process: answers/s x{b['answers_per_s'] / a['answers_per_s']:.2f}, "
              f"p95 x{b['p95_s'] / a['p95_s']:.2f}")
    return 0 if not (a["errors"] or b["errors"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
