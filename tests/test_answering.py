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
        "tokens", "prompt_tokens", "trimmed", "evidence", "extractive", "generated",
        "provenance"}


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
    # the fallback is off by default: the answer is the model's own text, whatever it says
    assert not stream.result["extractive"] and stream.result["answer"] == text.strip()
    whole = answer("Who planted the first orchid?", "rag", ctx)
    assert whole["answer"] == stream.result["answer"]  # greedy: same text either way
    assert whole["provenance"] == {"generator": "tiny-llama", "dtype": "float32",
                                   "adapter": None, "evidence": 1, "fallback": False,
                                   "reader": "free", "max_new_tokens": 4, "stop": [],
                                   "degraded": []}


def test_the_fallback_shows_the_passage_only_when_turned_on(ctx):
    """With the fallback on, an ungrounded model answer is replaced by the best sentence's
    passage; the model's own text is kept in ``generated``."""
    ctx.extractive_fallback = True
    out = answer("Who planted the first orchid?", "rag", ctx)
    assert out["extractive"] and out["answer"].startswith(out["evidence"][-1])
    assert out["generated"] and out["generated"] != out["answer"]
    assert out["provenance"]["fallback"]


def test_the_no_model_baseline_answers_with_the_best_passage(ctx, monkeypatch):
    """The extractive mode picks the evidence passage without calling the model."""
    calls = []
    monkeypatch.setattr(ctx.generator, "generate", lambda *a, **k: calls.append(a))
    out = answer("Who planted the first orchid?", "extractive", ctx)
    assert out["extractive"] and out["tokens"] == 0 and out["generated"] == "" and not calls
    assert out["answer"].startswith(out["evidence"][-1])
    assert out["sources"][0]["document"] == "orchids.md"
    assert out["model"] == "no model (retrieval only)"
    assert out["provenance"]["generator"] is None and out["provenance"]["fallback"] is False
    streamed = stream_answer("Who planted the first orchid?", "extractive", ctx)
    assert "".join(streamed) == out["answer"] == streamed.result["answer"]


def test_evidence_that_does_not_fit_is_recorded_as_a_degradation(ctx, monkeypatch):
    from core.rag import prompts

    real = prompts.rag_prompt

    def no_room(question, hits, tokenizer, budget, *, evidence=None, **kwargs):
        built = real(question, hits, tokenizer, budget, evidence=None, **kwargs)
        return built  # as if the evidence did not fit: the whole-chunk prompt

    monkeypatch.setattr("core.answering.rag_prompt", no_room)
    out = answer("Who planted the first orchid?", "rag", ctx)
    assert out["provenance"]["degraded"] == [
        "the evidence sentences did not fit the model's window: the whole chunks were shown "
        "instead"]


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
    """Five modes, each with what it needs; an adapter mode falls back to its plain twin (a
    model mode, never the no-model baseline)."""
    assert ALL_MODES == ("base", "extractive", "rag", "finetuned", "finetuned+rag")
    assert [(m.retrieves, m.needs_adapter, m.generates) for m in MODES.values()] == [
        (False, False, True), (True, False, False), (True, False, True), (False, True, True),
        (True, True, True)]
    assert ADAPTER_MODES == ("finetuned", "finetuned+rag")
    assert [without_adapter(m) for m in ALL_MODES] == ["base", "extractive", "rag", "base",
                                                       "rag"]


def test_adapter_modes_need_an_adapter(ctx):
    with pytest.raises(UserError, match="need an adapter"):
        answer("Hi?", "finetuned", ctx)


def test_unreadable_adapter_metadata_is_said_not_hidden(tmp_path):
    """A missing metadata file is {}, a corrupt one is an error naming the adapter."""
    from core.adapters import CONFIG_FILE, METADATA_FILE, AdapterRegistry

    registry = AdapterRegistry(tmp_path)
    folder = tmp_path / "ops"
    folder.mkdir()
    (folder / CONFIG_FILE).write_text("{}")
    assert registry.metadata("ops") == {}
    (folder / METADATA_FILE).write_text('{"knowledge_base": "ops"')  # cut short
    with pytest.raises(UserError, match=r"metadata of adapter 'ops'.*unreadable"):
        registry.metadata("ops")


def test_the_copy_reader_answers_with_a_span_of_the_evidence(ctx):
    """Constrained decoding: whatever the (random) tiny model prefers, its answer is a
    contiguous span of the evidence sentence; whole, batched and streamed agree."""
    ctx.reader = "copy"
    ctx.generation = GenerationConfig(max_new_tokens=6, stop=("\n",))
    q = "Who planted the first orchid?"
    out = answer(q, "rag", ctx)
    evidence = " ".join(out["evidence"]).lower()  # the tiny tokenizer lower-cases
    assert out["answer"] and out["answer"].lower() in evidence, (out["answer"], evidence)
    assert out["provenance"]["reader"] == "copy" and not out["extractive"]
    from core.answering import answer_many

    batched = list(answer_many([q, "When was the bakery oven built?"], "rag", ctx))
    assert batched[0]["answer"] == out["answer"]
    assert batched[1]["answer"].lower() in " ".join(batched[1]["evidence"]).lower()
    streamed = stream_answer(q, "rag", ctx)
    assert "".join(streamed) == out["answer"] == streamed.result["answer"]
    ctx.reader = "free"
    free = answer(q, "rag", ctx)
    assert free["provenance"]["reader"] == "free"


def test_copy_constraint_allows_only_spans():
    from core.copy_decoding import CopyConstraint

    class Words:  # one token per word, ids by position in a fixed vocabulary
        vocab = ("the", "bridge", "opened", "in", "1902", "x")

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [self.vocab.index(w) for w in text.split()]}

    c = CopyConstraint(Words(), ["the bridge opened in 1902"], stop_ids={99})
    assert c.allowed([]) == [0, 1, 2, 3, 4]  # any word may start the answer
    assert c.allowed([2]) == [3, 99]  # "opened" -> "in", or stop
    assert c.allowed([2, 3, 4]) == [99]  # the end of the source: only stop
    assert c.allowed([1, 3]) == [99]  # not a span: generation can only end
