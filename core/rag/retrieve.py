"""Find chunks for a question: vector, full-text (BM25) or hybrid (LanceDB's RRF) search.

Scores returned: ``vector`` = cosine similarity (1 - LanceDB's cosine ``_distance``; vectors are
normalised), ``fts`` = BM25 ``_score`` of LanceDB's native inverted index, ``hybrid`` =
reciprocal rank fusion ``_relevance_score`` = sum over both result lists of 1 / (k + rank),
k = ``RetrievalConfig.rrf_k`` (60, Cormack et al. 2009). Small tables are searched exactly
(flat scan); at ``ann_min_rows`` rows an IVF-PQ index is built and queries probe ``nprobes``
partitions and re-rank ``refine_factor`` x top-k candidates with exact distances. Generation
is not here (:mod:`core.answering`).

Example:
    >>> [h.document for h in search(store, "default", "Who founded Lumen?", cfg)]  # doctest: +SKIP
    ['history.md', 'people.md', 'history.md', 'faq.txt']
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from core.rag.config import RetrievalConfig, check_question

VECTOR_INDEX = "IVF_PQ"


@dataclass(frozen=True)
class Hit:
    id: str
    document: str
    chunk: int
    score: float
    text: str

    def to_source(self) -> dict:
        d = asdict(self)
        d.pop("id")
        return d


def has_vector_index(tbl) -> bool:
    return any(i.index_type not in ("FTS", "INVERTED") and "vector" in i.columns
               for i in tbl.list_indices())


def _has_fts_index(tbl) -> bool:
    return any("text" in i.columns and i.index_type in ("FTS", "INVERTED")
               for i in tbl.list_indices())


def ann_index_config(rows: int, dim: int):
    """IVF-PQ sized for ``rows`` x ``dim``: one partition per ~4,096 rows, dim/16 sub-vectors.

    Example: 100,000 x 384 -> 24 partitions, 24 sub-vectors of 8 bits (24 bytes per vector vs
    1,536). k-means cost grows with partitions x training sample (256 x partitions), so few,
    larger partitions build fast on a CPU; ``refine_factor`` restores the recall PQ loses.
    """
    from lancedb.index import IvfPq

    return IvfPq(distance_type="cosine", num_partitions=max(1, rows // 4_096),
                 num_sub_vectors=max(1, dim // 16), max_iterations=20, sample_rate=128)


def ensure_indexes(tbl, cfg: RetrievalConfig) -> list[str]:
    """Create/refresh the FTS index; build the ANN index once rows reach ``cfg.ann_min_rows``.

    Returns human-readable messages saying what was done (shown by the page and the CLI).
    """
    from lancedb.index import FTS

    rows = tbl.count_rows()
    messages: list[str] = []
    if rows == 0:
        return messages
    if not _has_fts_index(tbl):
        tbl.create_index("text", config=FTS(), replace=True)
    needs_ann = rows >= cfg.ann_min_rows and not has_vector_index(tbl)
    if needs_ann:
        dim = tbl.schema.field("vector").type.list_size
        start = time.perf_counter()
        tbl.create_index("vector", config=ann_index_config(rows, dim), replace=True)
        messages.append(f"built an {VECTOR_INDEX} vector index over {rows:,} chunks in "
                        f"{time.perf_counter() - start:.1f} s (>= {cfg.ann_min_rows:,} rows: "
                        "approximate search from now on)")
    elif not has_vector_index(tbl):
        messages.append(f"{rows:,} chunks: exact vector search (an ANN index is built at "
                        f"{cfg.ann_min_rows:,})")
    if any(s.num_unindexed_rows for s in _index_stats(tbl)):
        tbl.optimize()  # folds new rows into the FTS (and ANN) indexes incrementally
    return messages


def _index_stats(tbl):
    return [s for s in (tbl.index_stats(i.name) for i in tbl.list_indices()) if s is not None]


def embed_query(embedder, question: str) -> np.ndarray:
    return np.asarray(embedder.encode([question], normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False),
                      dtype=np.float32)[0]


def _vector_query(tbl, vec: np.ndarray, cfg: RetrievalConfig):
    q = tbl.search(vec, query_type="vector").distance_type("cosine").limit(cfg.top_k)
    if has_vector_index(tbl):
        q = q.nprobes(cfg.nprobes).refine_factor(cfg.refine_factor)
    return q


def search_table(tbl, question: str, vec: np.ndarray | None, cfg: RetrievalConfig) -> list[Hit]:
    """Run one search on an open table; ``vec`` is required for vector and hybrid."""
    cols = ["id", "document", "position", "text"]
    if cfg.search == "vector":
        rows = _vector_query(tbl, vec, cfg).select([*cols, "_distance"]).to_list()
        score = [1.0 - r["_distance"] for r in rows]
    elif cfg.search == "fts":
        rows = (tbl.search(question, query_type="fts").select([*cols, "_score"]).limit(cfg.top_k)
                .to_list())
        score = [r["_score"] for r in rows]
    else:
        from lancedb.rerankers import RRFReranker

        q = (tbl.search(query_type="hybrid").vector(vec).text(question).distance_type("cosine")
             .rerank(RRFReranker(K=cfg.rrf_k)).select(cols).limit(cfg.top_k))
        if has_vector_index(tbl):
            q = q.nprobes(cfg.nprobes).refine_factor(cfg.refine_factor)
        rows = q.to_list()
        score = [r["_relevance_score"] for r in rows]
    return [Hit(r["id"], r["document"], int(r["position"]), float(s), r["text"])
            for r, s in zip(rows, score, strict=True)]


def search(store, kb: str, question: str, cfg: RetrievalConfig | None = None) -> list[Hit]:
    """Top-k chunks of knowledge base ``kb`` for ``question`` (validated)."""
    cfg = cfg or RetrievalConfig()
    question = check_question(question)
    tbl = store.table(kb)
    vec = embed_query(store.embedder, question) if cfg.search != "fts" else None
    return search_table(tbl, question, vec, cfg)
