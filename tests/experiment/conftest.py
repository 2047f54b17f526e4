"""Experiment fixtures: a small knowledge base with enough typed values (four or more years,
times, amounts, counts and names) for derived questions, a tiny Llama as the generator and the
hash embedder (no real model)."""

from __future__ import annotations

import pytest

from tests.finetune.conftest import one_torch_thread  # noqa: F401 (autouse, re-exported)
from tests.rag.conftest import HashEmbedder
from tests.tiny_models import save_tiny_model

DOCS = {
    "harbour.md": (
        "# Harbour\n\nThe Kestrel Quay harbour opened in 1887 after the old pier collapsed. "
        "Harbour master Odile Brannock has run it since 2016 with a crew of 14 people.\n\n"
        "The ferry to Tarn Island leaves at 07:15 every weekday and a return costs £12.40 "
        "for an adult."),
    "museum.md": (
        "# Museum\n\nThe Salt Museum was founded in 1952 by the schoolteacher Ambrose Fitch. "
        "It holds 3,400 objects and welcomed 61 school groups in 2023.\n\n"
        "Doors open at 10:30 from Tuesday to Sunday, and a family ticket costs £18.50 at "
        "the desk. The museum café closes at 16:00 and a pot of tea costs £3.20 there."),
    "festival.md": (
        "# Festival\n\nThe Lantern Festival first took place in 1979 on the Mill Green. "
        "Last year 215 volunteers from Corran Vale carried lanterns through the streets.\n\n"
        "The parade starts at 19:45 from the Weavers Hall and the raffle raised £640 for "
        "the lifeboat crew led by Jory Penhallow."),
}


def build_kb(settings, name: str = "exp", docs: dict[str, str] | None = None):
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    store.add_documents(name, [Document(n, t, n.rsplit(".", 1)[1])
                               for n, t in (docs or DOCS).items()])
    return store


@pytest.fixture
def exp_env(tmp_path, monkeypatch, tiny_tokenizer):
    """Settings with a saved tiny Llama as the generator, the hash embedder as the embedder
    and the knowledge base "exp" built from :data:`DOCS`."""
    import core.loaders
    from core.settings import load_settings

    folder = save_tiny_model(tmp_path / "tiny-llama", tiny_tokenizer)
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", str(folder))
    monkeypatch.setattr(core.loaders, "load_embedder", lambda settings: HashEmbedder())
    settings = load_settings()
    build_kb(settings)
    return settings
