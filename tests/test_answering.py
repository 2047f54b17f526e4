"""Answer modes (the table, base, rag, the adapter modes), whole and streamed, on the tiny
generator."""

import pytest

from core.answering import (
    ADAPTER_MODES,
    ALL_MODES,
    MODES,
    AskContext,
    Mode,
    answer,
    stream_answer,
    without_adapter,
)
from core.errors import UserError
from core.generation import GenerationConfig
from core.rag.config import RetrievalConfig
from tests.rag.conftest import docs, embedder, store

__all__ = ["docs", "embedder", "store"]  # fixtures shared with the RAG tests

KEYS = {"answer", "mode", "model", "sources", "chunk_ids", "seconds", "retrieval_seconds",
        "tokens", "prompt_tokens", "trimmed", "evidence", "extractive", "generated"}


@pytest.fixture
def ctx(store, docs, tiny_generator):
    store.add_documents("kb1", docs)
    return AskContext(tiny_generator, store, "kb1", RetrievalConfig(top_k=2),
                      GenerationConfig(max_new_tokens=4))


def test_rag_returns_sources_and_base_does_not(ctx):
    rag = answer("When was the bakery oven built?", "rag", ctx)
    assert set(rag) == KEYS and rag["mode"] == "rag" and rag["model"] == "tiny-llama"
    assert rag["sources"][0]["document"] == "bakery.md"
    assert set(rag["sources"][0]) == {"document", "chunk", "score", "text"}
    assert rag["chunk_ids"][0] == "bakery.md#0" and 1 <= rag["tokens"] <= 4
    base = answer("When was the bakery oven built?", "base", ctx)
    assert base["sources"] == [] and base["prompt_tokens"] < rag["prompt_tokens"]


def test_stream_gives_pieces_then_the_same_result(ctx):
    stream = stream_answer("Who planted the first orchid?", "rag", ctx)
    assert stream.sources[0].document == "orchids.md"  # known before the first piece
    text = "".join(stream)
    assert set(stream.result) == KEYS and stream.result["generated"] == text.strip()
    # the tiny model's text is not grounded in the evidence: the best sentence answers instead
    assert stream.result["extractive"]
    assert stream.result["answer"].startswith(stream.result["evidence"][-1])
    whole = answer("Who planted the first orchid?", "rag", ctx)
    assert whole["answer"] == stream.result["answer"]  # greedy: same text either way


@pytest.mark.parametrize("question, mode, needle", [
    ("", "base", "empty"), ("x" * 50_000, "rag", "50,000"), ("ok?", "finetuned-x", "unknown mode"),
])
def test_bad_requests(ctx, question, mode, needle):
    with pytest.raises(UserError, match=needle):
        answer(question, mode, ctx)


def test_rag_without_a_store_or_base(tiny_generator, store):
    with pytest.raises(UserError, match="needs a knowledge base"):
        answer("q?", "rag", AskContext(tiny_generator))
    with pytest.raises(UserError, match="does not exist"):
        answer("q?", "rag", AskContext(tiny_generator, store, "missing"))


def test_new_modes_plug_into_the_table(ctx, monkeypatch):
    monkeypatch.setitem(MODES, "echo", Mode("echo", "Echo"))
    assert answer("Hi?", "echo", ctx)["mode"] == "echo"
    monkeypatch.setitem(MODES, "echo2", Mode("echo2", "Echo 2", retrieves=True))
    assert answer("Who planted the first orchid?", "echo2", ctx)["sources"]  # it retrieves


def test_the_mode_table():
    """Four modes, each with what it needs; an adapter mode falls back to its plain twin."""
    assert ALL_MODES == ("base", "rag", "finetuned", "finetuned+rag")
    assert [(m.retrieves, m.needs_adapter) for m in MODES.values()] == [
        (False, False), (True, False), (False, True), (True, True)]
    assert ADAPTER_MODES == ("finetuned", "finetuned+rag")
    assert [without_adapter(m) for m in ALL_MODES] == ["base", "rag", "base", "rag"]


def test_adapter_modes_need_an_adapter(ctx):
    with pytest.raises(UserError, match="need an adapter"):
        answer("Hi?", "finetuned", ctx)
