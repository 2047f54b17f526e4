"""The generator through a real `transformers serve` (tiny model, continuous batching)."""

from __future__ import annotations

import threading

import pytest

from core.errors import UserError
from core.generation import GenerationConfig, Generator
from core.remote_generation import LikelihoodUnavailable, RemoteGenerator

CONFIG = GenerationConfig(max_new_tokens=8)


@pytest.fixture(scope="module")
def local_twin(tiny_model_folder):
    """The same tiny model loaded in this process: the reference answers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_folder)
    return Generator(model, tokenizer, model_id="tiny", device="cpu", is_seq2seq=False)


@pytest.fixture
def remote(served_settings):
    from core.loaders import load_generator

    gen = load_generator(served_settings)
    assert isinstance(gen, RemoteGenerator)
    return gen


def test_chat_answer_matches_the_same_model_in_process(remote, local_twin):
    """Greedy decoding of the same weights under the same chat template gives the same text
    and the same token counts; the counts come from the server's usage."""
    got = remote.generate("Who planted the first orchid?", CONFIG)
    want = local_twin.generate("Who planted the first orchid?", CONFIG)
    assert got.text == want.text and got.text
    assert (got.tokens, got.prompt_tokens) == (want.tokens, want.prompt_tokens)
    assert got.tokens == 8
    assert got.seconds > 0 and set(got.to_dict()) == set(want.to_dict())


def test_plain_completion_matches_in_process(remote, local_twin):
    got = remote.generate("Context: trams run at night.\nAnswer:", CONFIG, chat=False)
    want = local_twin.generate("Context: trams run at night.\nAnswer:", CONFIG, chat=False)
    assert got.text == want.text and got.tokens == want.tokens == 8


def test_stream_yields_pieces_that_join_to_the_whole_answer(remote):
    whole = remote.generate("Name a colour.", CONFIG)
    stream = remote.stream("Name a colour.", CONFIG)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces).strip() == whole.text == stream.result.text
    assert stream.result.tokens == 8 and stream.result.prompt_tokens == whole.prompt_tokens


def test_concurrent_sessions_all_get_their_own_answer(remote):
    prompts = [f"Question number {i}?" for i in range(6)]
    alone = {p: remote.generate(p, CONFIG).text for p in prompts}
    got: dict[str, str] = {}

    def ask(p):
        got[p] = remote.generate(p, CONFIG).text

    threads = [threading.Thread(target=ask, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert got == alone  # batched together, nothing interleaved


def test_label_and_context_window(remote, tiny_model_folder):
    assert remote.label() == f"{tiny_model_folder} @ server"
    assert remote.context_window == 1024  # the local copy's config (the server lists no length)


def test_fine_tuned_mode_without_server_lora_says_it_needs_the_local_model(remote):
    with pytest.raises(UserError) as info:
        remote.generate("hi", CONFIG, adapter="orbis")
    assert str(info.value).startswith("fine-tuned modes need the local model or adapter 'orbis' "
                                      "served by the model server (vLLM: --enable-lora")
    assert "offers no models" in str(info.value)


def test_multiple_choice_scoring_is_unavailable_with_the_reason(remote):
    """`transformers serve` ignores echo/logprobs on /v1/completions: no silent zero scores."""
    from core.evaluation.likelihood import score_choices

    with pytest.raises(LikelihoodUnavailable, match="returns no prompt log-probabilities"):
        score_choices(remote, "Capital of France?", ["Paris", "Rome"])


def test_rag_answer_through_the_server_has_the_in_process_columns(served_settings, local_twin,
                                                                    monkeypatch):
    """`answer` in rag mode: same result keys, same answer as the same model in process."""
    from dataclasses import replace

    from core.answering import RAG, answer, make_context
    from core.loaders import load_generator
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore
    from tests.rag.conftest import HashEmbedder

    store = KnowledgeStore(served_settings, HashEmbedder(), embedder_id="test-hash")
    store.add_documents("kb1", [Document("trams.txt", "Night trams run on Fridays.", "txt")])
    remote_ctx = make_context(served_settings, "kb1", modes=[RAG], store=store,
                              max_new_tokens=8)
    local_ctx = replace(remote_ctx, generator=local_twin)
    assert remote_ctx.generator is load_generator(served_settings)
    got = answer("When do night trams run?", RAG, remote_ctx)
    want = answer("When do night trams run?", RAG, local_ctx)
    assert set(got) == set(want)
    assert got["answer"] == want["answer"] and got["chunk_ids"] == ["trams.txt#0"]
    assert (got["tokens"], got["prompt_tokens"]) == (want["tokens"], want["prompt_tokens"])
    assert got["model"].endswith("@ server")


def test_evaluation_reports_multiple_choice_unavailable_with_the_reason(served_settings):
    """Evaluate through the server: answers are scored, MC accuracy says why it is missing."""
    from core.answering import BASE, make_context
    from core.evaluation import runner
    from core.qa import QAItem
    from tests.rag.conftest import HashEmbedder

    item = QAItem("Capital of France?", "Paris", choices=("Paris", "Rome", "Oslo", "Bern"),
                  id="q1")
    ctx = make_context(served_settings, "default", modes=[BASE], max_new_tokens=4)
    run = runner.evaluate([item], [BASE], ctx, HashEmbedder())
    agg = run["aggregates"][BASE]
    assert agg["mc_accuracy"] is None and agg["f1"] is not None
    assert "returns no prompt log-probabilities" in agg["unavailable"]["mc_accuracy"]
