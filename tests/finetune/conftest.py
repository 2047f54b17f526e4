"""Fine-tuning fixtures: one torch thread and a tiny knowledge-base environment.

The tiny models (``fresh_llama``, ``fresh_t5``, ``fresh_generator``) are suite-wide fixtures
from ``tests/conftest.py`` over the one factory, :mod:`tests.tiny_models`; they are
re-exported here for modules that import them from this file.
"""

from __future__ import annotations

import pytest

from tests.conftest import fresh_generator, fresh_llama, fresh_t5  # noqa: F401 (re-exported)
from tests.feedback.conftest import folder_generator, store  # noqa: F401 (learning's fixtures)
from tests.rag.conftest import DOCS, HashEmbedder
from tests.tiny_models import build_tiny_llama, build_tiny_t5, save_tiny_model  # noqa: F401 (re-exported)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run faster on one thread, and far faster on a shared, oversubscribed CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_env(tmp_path, monkeypatch, tiny_tokenizer):
    """Env settings pointing the generator at a saved tiny Llama, with a 'mini' KB built by the
    hash embedder, which the loaders then hand out as the embedder (no MiniLM load)."""
    import core.loaders
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore
    from core.settings import load_settings

    folder = save_tiny_model(tmp_path / "tiny-llama", tiny_tokenizer)
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", str(folder))
    monkeypatch.setattr(core.loaders, "load_embedder", lambda settings: HashEmbedder())
    settings = load_settings()
    kb_store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    kb_store.add_documents("mini", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    return settings
