"""Retrieval benchmark: query latency, ANN recall@10 and indexing throughput, with baselines.

Measured in one run, on this machine:
1. Indexing throughput on the default knowledge base: our pipeline (chunk, embed in batches,
   write to LanceDB, build the FTS index) vs bare ``SentenceTransformer.encode`` on the same
   chunk texts (same batch size); best of ``--repeats`` each, alternating. Target ratio >= 0.9.
2. Query latency (embed + search) p50/p95 on the default KB: LanceDB vector / FTS / hybrid
   vs exact NumPy search (matrix-vector product over the same normalised vectors).
3. A synthetic table of ``--rows`` (100,000) random *clustered* 384-d unit vectors (Gaussian
   blobs around 2,000 random centres; not real text embeddings, which is fine for ANN
   behaviour): IVF-PQ build time, recall@10 against exact NumPy top-10 for several
   nprobes/refine_factor settings (target >= 0.95), and embed + search latency vs NumPy.

Run: ``.venv/bin/python bench/retrieval.py`` (a few minutes on a busy 2-core box);
``--rows 20000 --queries 20 --repeats 1`` for a quick look. Latency = embedding time of the
question (measured once per question) + the search's own time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SWEEP = [(2, 1), (4, 5), (8, 5), (8, 10), (16, 10)]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def row(name: str, xs: list[float], base: list[float] | None = None) -> str:
    ratio = f"{pct(xs, 50) / pct(base, 50):6.2f}x" if base else "      "
    return f"  {name:<34} p50 {pct(xs, 50):8.2f} ms   p95 {pct(xs, 95):8.2f} ms   {ratio}"


def bench_indexing(settings, embedder, docs, repeats: int) -> tuple[dict, object]:
    from core.rag.chunking import chunk_text
    from core.rag.store import EMBED_BATCH, KnowledgeStore

    texts = list(dict.fromkeys(c.text for d in docs for c in chunk_text(d.text)))
    pipe, bare, store = [], [], None
    embedder.encode(texts[:8])  # warm-up
    for r in range(repeats):
        start = time.perf_counter()
        embedder.encode(texts, batch_size=EMBED_BATCH, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
        bare.append(time.perf_counter() - start)
        store = KnowledgeStore(settings, embedder)
        kb = f"bench{r}"
        start = time.perf_counter()
        report = store.add_documents(kb, docs)
        pipe.append(time.perf_counter() - start)
        assert report.chunks_added == len(texts), (report.chunks_added, len(texts))
    n = len(texts)
    out = {"chunks": n, "bare_chunks_per_s": n / min(bare), "pipeline_chunks_per_s": n / min(pipe)}
    out["ratio"] = out["pipeline_chunks_per_s"] / out["bare_chunks_per_s"]
    return out, store


def bench_default_queries(store, embedder, questions: list[str]) -> dict:
    from core.rag.config import RetrievalConfig
    from core.rag.retrieve import embed_query, search_table

    tbl = store.table("bench0")
    data = tbl.to_arrow()
    matrix = np.asarray(data["vector"].to_pylist(), np.float32)
    times: dict[str, list[float]] = {k: [] for k in ("numpy", "vector", "fts", "hybrid", "embed",
                                                     "numpy_search", "vector_search",
                                                     "hybrid_search")}
    agree = 0
    for q in questions:  # one embedding per question, added to each vector-based search
        start = time.perf_counter()
        vec = embed_query(embedder, q)
        embed = time.perf_counter() - start
        times["embed"].append(embed)
        start = time.perf_counter()
        exact = np.argsort(-(matrix @ vec))[:4]
        times["numpy_search"].append(time.perf_counter() - start)
        times["numpy"].append(embed + times["numpy_search"][-1])
        for mode in ("vector", "fts", "hybrid"):
            start = time.perf_counter()
            hits = search_table(tbl, q, vec if mode != "fts" else None,
                                RetrievalConfig(top_k=4, search=mode))
            took = time.perf_counter() - start
            times[mode].append((0 if mode == "fts" else embed) + took)
            if mode != "fts":
                times[f"{mode}_search"].append(took)
            if mode == "vector":
                agree += [h.id for h in hits] == [data["id"][int(i)].as_py() for i in exact]
    return {"times": times, "rows": len(matrix), "exact_agreement": agree / len(questions)}


def clustered(rows: int, dim: int, rng, centres: int = 2_000) -> np.ndarray:
    c = rng.normal(size=(centres, dim)).astype(np.float32)
    x = c[rng.integers(0, centres, rows)] + 0.35 * rng.normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def bench_synthetic(tmp: Path, embedder, questions, rows: int, n_queries: int) -> dict:
    import lancedb
    import pyarrow as pa

    from core.rag.config import RetrievalConfig
    from core.rag.retrieve import ann_index_config, embed_query, ensure_indexes

    rng = np.random.default_rng(7)
    dim = 384
    vecs = clustered(rows + n_queries, dim, rng)
    data, queries = vecs[:rows], vecs[rows:]
    table = pa.table({"id": [f"s#{i}" for i in range(rows)], "document": ["synthetic"] * rows,
                      "position": pa.array(np.arange(rows), pa.int32()),
                      "text": [f"chunk {i}" for i in range(rows)],
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), dim)})
    tbl = lancedb.connect(tmp / "synthetic").create_table("synthetic", table)
    start = time.perf_counter()
    messages = ensure_indexes(tbl, RetrievalConfig(ann_min_rows=min(50_000, rows)))
    build = time.perf_counter() - start
    exact = [set(np.argpartition(-(data @ q), 10)[:10].tolist()) for q in queries]
    sweep = []
    for nprobes, refine in SWEEP:
        recall, lat = [], []
        for q, truth in zip(queries, exact, strict=True):
            start = time.perf_counter()
            res = (tbl.search(q).distance_type("cosine").nprobes(nprobes).refine_factor(refine)
                   .select(["position"]).limit(10).to_list())
            lat.append(time.perf_counter() - start)
            recall.append(len(truth & {r["position"] for r in res}) / 10)
        sweep.append({"nprobes": nprobes, "refine_factor": refine,
                      "recall@10": float(np.mean(recall)), "lat": lat})
    cfg = RetrievalConfig()
    times: dict[str, list[float]] = {"numpy": [], "ann": [], "flat": [], "numpy_search": [],
                                     "ann_search": [], "flat_search": []}
    for i, q in enumerate(questions[:n_queries]):  # embed once, add it to each search
        start = time.perf_counter()
        v = embed_query(embedder, q)
        embed = time.perf_counter() - start
        start = time.perf_counter()
        np.argpartition(-(data @ v), 10)[:10]
        times["numpy_search"].append(time.perf_counter() - start)
        times["numpy"].append(embed + times["numpy_search"][-1])
        start = time.perf_counter()
        (tbl.search(v).distance_type("cosine").nprobes(cfg.nprobes)
         .refine_factor(cfg.refine_factor).limit(10).to_list())
        times["ann_search"].append(time.perf_counter() - start)
        times["ann"].append(embed + times["ann_search"][-1])
        if i < 20:  # a flat scan of 100k rows is slow: fewer runs
            start = time.perf_counter()
            tbl.search(v).distance_type("cosine").bypass_vector_index().limit(10).to_list()
            times["flat_search"].append(time.perf_counter() - start)
            times["flat"].append(embed + times["flat_search"][-1])
    return {"rows": rows, "build_s": build, "index": ann_index_config(rows, dim).__class__.__name__,
            "messages": messages, "sweep": sweep, "times": times,
            "default": (cfg.nprobes, cfg.refine_factor)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="synthetic table size")
    ap.add_argument("--queries", type=int, default=30, help="queries per measurement")
    ap.add_argument("--repeats", type=int, default=2, help="indexing runs (best of)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for the embedder (0 = torch default)")
    args = ap.parse_args()
    if args.threads:
        __import__("torch").set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the 100k-row table is ~200 MB


def run(args, tmp: Path) -> None:
    from core.loaders import load_embedder
    from core.qa import load_qa_rows
    from core.rag.defaults import DEFAULT_DOCS_DIR
    from core.rag.ingest import read_folder
    from core.settings import load_settings

    os.environ["NLPLAB_DATA_DIR"] = str(tmp / "data")
    settings = load_settings()
    embedder = load_embedder(settings)
    docs, _ = read_folder(DEFAULT_DOCS_DIR)
    questions = [r["question"] for r in load_qa_rows()]
    questions = (questions * (1 + args.queries // max(1, len(questions))))[:args.queries]
    print(f"torch threads: {__import__('torch').get_num_threads()}, cpus: {os.cpu_count()}, "
          f"load avg: {os.getloadavg()[0]:.1f}")

    idx, store = bench_indexing(settings, embedder, docs, args.repeats)
    print(f"\n1. Indexing the default KB ({len(docs)} documents, {idx['chunks']} chunks), "
          f"best of {args.repeats}")
    print(f"  bare SentenceTransformer.encode     {idx['bare_chunks_per_s']:8.1f} chunks/s")
    print(f"  pipeline (chunk+embed+write+FTS)    {idx['pipeline_chunks_per_s']:8.1f} chunks/s")
    print(f"  ratio pipeline / bare               {idx['ratio']:8.3f}   (target >= 0.9)")

    dq = bench_default_queries(store, embedder, questions)
    t = dq["times"]
    print(f"\n2. Query latency, default KB ({dq['rows']} chunks, exact search), "
          f"{len(questions)} questions, top-4; ratio = p50 / NumPy p50")
    print(row("embed only", t["embed"]))
    print(row("embed + exact NumPy (baseline)", t["numpy"]))
    for mode in ("vector", "fts", "hybrid"):
        print(row(f"{'' if mode == 'fts' else 'embed + '}LanceDB {mode}", t[mode], t["numpy"]))
    print(row("search only: NumPy exact", t["numpy_search"]))
    print(row("search only: LanceDB vector", t["vector_search"], t["numpy_search"]))
    print(row("search only: LanceDB hybrid", t["hybrid_search"], t["numpy_search"]))
    print(f"  LanceDB vector top-4 == NumPy top-4 on {dq['exact_agreement']:.0%} of questions")

    syn = bench_synthetic(tmp, embedder, questions, args.rows, args.queries)
    print(f"\n3. Synthetic table: {syn['rows']:,} clustered random 384-d vectors; "
          f"{syn['index']} built in {syn['build_s']:.1f} s")
    for m in syn["messages"]:
        print(f"  ({m})")
    print("  nprobes refine  recall@10   search p50   search p95")
    for s in syn["sweep"]:
        flag = "  <- default" if (s["nprobes"], s["refine_factor"]) == syn["default"] else ""
        print(f"  {s['nprobes']:>7} {s['refine_factor']:>6}  {s['recall@10']:9.3f}  "
              f"{pct(s['lat'], 50):8.2f} ms  {pct(s['lat'], 95):8.2f} ms{flag}")
    t = syn["times"]
    print(row("embed + exact NumPy (baseline)", t["numpy"]))
    print(row("embed + LanceDB ANN (default)", t["ann"], t["numpy"]))
    print(row("embed + LanceDB flat scan", t["flat"], t["numpy"]))
    print(row("search only: NumPy exact", t["numpy_search"]))
    print(row("search only: LanceDB ANN", t["ann_search"], t["numpy_search"]))
    print(row("search only: LanceDB flat scan", t["flat_search"], t["numpy_search"]))
    if args.json:
        args.json.write_text(json.dumps({"indexing": idx, "default_kb": dq, "synthetic": syn},
                                        default=str))


if __name__ == "__main__":
    main()
