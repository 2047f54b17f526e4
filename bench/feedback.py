"""Feedback store throughput: writes/s single-threaded and with 8 concurrent writers, records lost.

Each write is one committed transaction (``record_output``), as when a user clicks a thumb.
Baseline, measured in the same run: the raw ``sqlite3`` module inserting the same rows with the
same pragmas (WAL, synchronous=FULL), i.e. the cost of the disk's fsync without SQLAlchemy.
Rows: SQLite with synchronous=FULL (the shipped default: a committed rating survives power loss)
and NORMAL (survives a process crash only), threads (browser sessions share one Streamlit
process) and processes (several app servers on one file), and PostgreSQL when ``--pg-url`` is
given. "lost" = writes reported committed minus rows found afterwards (must be 0).

    .venv/bin/python bench/feedback.py                 # ~1 min on a busy 2-core box
    .venv/bin/python bench/feedback.py --writes 2000   # full size
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.feedback.store import SQLFeedbackStore

PROMPT = "What does LoRA change in a transformer layer? " * 3
ANSWER = "It adds a trainable low-rank update B·A next to frozen weight matrices. " * 4


def _write(store: SQLFeedbackStore, tag: str, i: int) -> None:
    store.record_output(session_id=tag, page="bench", mode="rag", prompt=f"{PROMPT}{i}",
                        output=ANSWER, model_id="smol", retrieved_ids=["d#1", "d#2"],
                        rating="up" if i % 2 else "down", latency_seconds=0.5)


def raw_sqlite_baseline(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, prompt TEXT, output TEXT, rating TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (prompt, output, rating) VALUES (?, ?, ?)",
                     (f"{PROMPT}{i}", ANSWER, "up"))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return n / seconds


def run_threads(store: SQLFeedbackStore, writers: int, per_writer: int) -> tuple[float, int]:
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for i in range(per_writer):
                _write(store, f"t{w}", i)
        except BaseException as exc:  # reported: a failed write counts as lost below
            errors.append(exc)

    before = store.count()["outputs"]
    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    lost = writers * per_writer - (store.count()["outputs"] - before)
    if errors:
        print(f"  {len(errors)} writer(s) failed: {errors[0]}", file=sys.stderr)
    return writers * per_writer / seconds, lost


def _proc_writer(url: str, sync: str, w: int, per_writer: int, ready, go) -> None:
    store = SQLFeedbackStore(url, sqlite_synchronous=sync)
    ready.release()
    go.wait()
    for i in range(per_writer):
        _write(store, f"p{w}", i)
    store.close()


def run_processes(store: SQLFeedbackStore, sync: str, writers: int,
                  per_writer: int) -> tuple[float, int]:
    before = store.count()["outputs"]
    ctx = mp.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_proc_writer, args=(store.url, sync, w, per_writer, ready, go))
             for w in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:  # timing starts once every process has imported and opened the store
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - start
    return writers * per_writer / seconds, writers * per_writer - (
        store.count()["outputs"] - before)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writes", type=int, default=400, help="writes per configuration")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--pg-url", default="", help="also benchmark this SQLAlchemy URL")
    ap.add_argument("--no-processes", action="store_true")
    args = ap.parse_args()
    per = max(1, args.writes // args.writers)
    tmp = Path(tempfile.mkdtemp(prefix="nlplab-bench-feedback-"))
    baseline = raw_sqlite_baseline(tmp / "raw.db", args.writes)
    rows = [("raw sqlite3 (baseline)", "FULL", "1 thread", baseline, 0)]
    configs = [(f"sqlite:///{tmp / f'{s}.db'}", s) for s in ("FULL", "NORMAL")]
    if args.pg_url:
        configs.append((args.pg_url, "-"))
    for url, sync in configs:
        store = SQLFeedbackStore(url, sqlite_synchronous=sync if sync != "-" else "FULL")
        name = "postgresql" if sync == "-" else "sqlite (ours)"
        rate, lost = run_threads(store, 1, args.writes)
        rows.append((name, sync, "1 thread", rate, lost))
        rate, lost = run_threads(store, args.writers, per)
        rows.append((name, sync, f"{args.writers} threads", rate, lost))
        if not args.no_processes:
            rate, lost = run_processes(store, sync if sync != "-" else "FULL", args.writers, per)
            rows.append((name, sync, f"{args.writers} processes", rate, lost))
        store.close()
    print(f"\n{args.writes} writes per row (concurrent rows: {args.writers} x {per})\n")
    print("| store | synchronous | writers | writes/s | x baseline | lost |")
    print("|---|---|---|---:|---:|---:|")
    for name, sync, writers, rate, lost in rows:
        print(f"| {name} | {sync} | {writers} | {rate:,.0f} | {rate / baseline:.2f} | {lost} |")
    total_lost = sum(r[4] for r in rows)
    print(f"\nrecords lost: {total_lost}")
    sys.exit(1 if total_lost else 0)


if __name__ == "__main__":
    main()
