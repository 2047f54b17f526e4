"""Search modes on a small table, scores, top-k, odd queries and the ANN index switch-over."""

import numpy as np
import pyarrow as pa
import pytest

from core.errors import UserError
from core.rag.config import RetrievalConfig
from core.rag.retrieve import ensure_indexes, has_vector_index, search, search_table


@pytest.fixture
def kb(store, docs):
    store.add_documents("kb1", docs)
    return store


@pytest.mark.parametrize("mode", ["vector", "fts", "hybrid"])
@pytest.mark.parametrize("question, document", [
    ("When was the bakery oven built?", "bakery.md"),
    ("How often does the Northline tram leave Harbor Square?", "trains.txt"),
    ("Who planted the first orchid?", "orchids.md"),
])
def test_each_mode_ranks_the_right_document_first(kb, mode, question, document):
    hits = search(kb, "kb1", question, RetrievalConfig(top_k=3, search=mode))
    assert hits[0].document == document
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].text and hits[0].chunk == 0 and hits[0].id == f"{document}#0"


def test_scores_have_the_documented_meaning(kb):
    """vector: cosine in [-1, 1]; hybrid: RRF, top hit in both lists = 2 / (60 + 1)."""
    q = "When was the bakery oven built?"
    vec = search(kb, "kb1", q, RetrievalConfig(search="vector"))
    assert all(-1.0 <= h.score <= 1.0 for h in vec)
    hyb = search(kb, "kb1", q, RetrievalConfig(search="hybrid"))
    assert hyb[0].score == pytest.approx(2 / 61, rel=1e-5)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_is_respected(kb, k):
    assert len(search(kb, "kb1", "the tram and the bakery", RetrievalConfig(top_k=k,
                                                                            search="vector"))) == k


@pytest.mark.parametrize("question", ['what "about" AND: (the) ?', "the of and", "*", "ÿ€ 🙂"])
def test_odd_full_text_queries_do_not_crash(kb, question):
    for mode in ("fts", "hybrid"):
        search(kb, "kb1", question, RetrievalConfig(search=mode))


@pytest.mark.parametrize("question, needle", [("", "empty"), ("   \n", "empty"),
                                              ("x" * 50_000, "50,000 characters")])
def test_bad_questions(kb, question, needle):
    with pytest.raises(UserError, match=needle):
        search(kb, "kb1", question)


@pytest.mark.parametrize("kwargs, needle", [({"top_k": 0}, "top_k"), ({"search": "bm25"}, "search"),
                                            ({"ann_min_rows": 10}, "ann_min_rows")])
def test_bad_retrieval_config(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        RetrievalConfig(**kwargs)


def test_ann_index_is_built_at_the_threshold_and_says_so(tmp_path):
    """1,500 rows >= ann_min_rows=1,000 -> IVF_PQ; a stored vector still finds itself."""
    import lancedb

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(1_500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    n = len(vecs)
    data = pa.table({"id": [f"d#{i}" for i in range(n)], "document": ["d"] * n,
                     "position": pa.array(range(n), pa.int32()),
                     "text": [f"row {i}" for i in range(n)],
                     "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), 32)})
    tbl = lancedb.connect(tmp_path / "db").create_table("t", data)
    small = ensure_indexes(tbl, RetrievalConfig(ann_min_rows=2_000))
    assert "exact vector search" in small[0] and not has_vector_index(tbl)
    cfg = RetrievalConfig(ann_min_rows=1_000, search="vector", top_k=5)
    messages = ensure_indexes(tbl, cfg)
    assert has_vector_index(tbl) and "IVF_PQ" in messages[0] and "1,500" in messages[0]
    hits = search_table(tbl, "", vecs[123], cfg)
    assert hits[0].id == "d#123" and hits[0].score == pytest.approx(1.0, abs=1e-3)
