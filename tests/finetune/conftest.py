"""Fresh tiny models for LoRA tests (the suite-wide ``tiny_generator`` is shared: never mutate it).

Each fixture builds a ~1M-parameter model from a config with a fixed seed, so two calls give
identical weights and a test can compare a trained copy with an untouched one.
"""

from __future__ import annotations

import pytest

from tests.feedback.conftest import folder_generator, store  # noqa: F401 (learning's fixtures)
from tests.rag.conftest import DOCS, HashEmbedder


def build_tiny_llama(tokenizer, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.sep_token_id)
    return LlamaForCausalLM(config).eval()


def build_tiny_t5(tokenizer, seed: int = 0):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64,
                      num_layers=2, num_decoder_layers=2, num_heads=4,
                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    return T5ForConditionalGeneration(config).eval()


@pytest.fixture
def fresh_llama(tiny_tokenizer):
    """A factory: ``fresh_llama()`` returns a new tiny Llama with seed-0 weights."""
    return lambda seed=0: build_tiny_llama(tiny_tokenizer, seed)


@pytest.fixture
def fresh_t5(tiny_tokenizer):
    return lambda seed=0: build_tiny_t5(tiny_tokenizer, seed)


@pytest.fixture
def fresh_generator(tiny_tokenizer):
    """A factory of Generators around fresh tiny Llamas (safe to attach adapters to)."""
    from core.generation import Generator

    def make(seed: int = 0) -> Generator:
        return Generator(build_tiny_llama(tiny_tokenizer, seed), tiny_tokenizer,
                         model_id="tiny-llama", device="cpu", is_seq2seq=False)

    return make


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run faster on one thread, and far faster on a shared, oversubscribed CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_env(tmp_path, monkeypatch, tiny_tokenizer, fresh_llama):
    """Env settings pointing the generator at a saved tiny Llama, with a 'mini' KB."""
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore
    from core.settings import load_settings

    folder = tmp_path / "tiny-llama"
    fresh_llama().save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", str(folder))
    settings = load_settings()
    kb_store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    kb_store.add_documents("mini", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    return settings
