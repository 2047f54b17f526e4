"""Shared fixtures for the hardening tests: a populated data dir and a snapshot of it.

``populated`` builds, in the test's own data directory, a knowledge base ``kb1`` (fake hash
embedder), a feedback database with rated answers and a trained logreg emotion model ``emo1``.
``snapshot(settings)`` captures everything a hostile input could change: every file's hash
(SQLite WAL/SHM side files excepted), each LanceDB table's version and row count, the feedback
row counts.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.rag.conftest import DOCS, HashEmbedder

CSV_OK = "text,label\n" + "".join(
    f"{w} {w} day {i},{lab}\n" for i in range(12)
    for w, lab in (("happy", "joy"), ("sad", "sadness"), ("angry", "anger")))


def snapshot(settings) -> dict:
    from core.feedback.store import open_store
    from core.rag.store import KnowledgeStore

    root = Path(settings.data_dir)
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal")):
            files[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    tables = {n: (store.table(n).version, store.table(n).count_rows()) for n in store.names()}
    fb = open_store(settings)
    try:
        counts = fb.count()
    finally:
        fb.close()
    return {"files": files, "tables": tables, "feedback": counts}


def build_populated(settings, tiny_generator) -> None:
    """Fill ``settings.data_dir`` with kb1, three feedback records and emotion model emo1."""
    from core.emotions.datasets import labelled, read_csv
    from core.emotions.training import TrainConfig, train
    from core.feedback.store import open_store
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    store.add_documents("kb1", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    fb = open_store(settings)
    for i, rating in enumerate(["up", "down", "up"]):
        fb.record_output(session_id="s", page="compare", mode="rag", prompt=f"q{i}",
                         output=f"a{i}", rating=rating)
    fb.close()
    data = labelled(read_csv(CSV_OK.encode(), name="ok.csv"), name="ok.csv")
    train(data, TrainConfig(model="logreg", name="emo1", cv_folds=2), settings.data_dir)


@pytest.fixture(scope="session")
def populated_template(tmp_path_factory, tiny_generator) -> Path:
    """Built once per session; tests get a copy (building takes ~1 s, copying ~10 ms)."""
    from core.settings import Settings

    root = tmp_path_factory.mktemp("populated") / "appdata"
    build_populated(Settings(data_dir=root, device="cpu"), tiny_generator)
    return root


@pytest.fixture
def populated(monkeypatch, tiny_generator, populated_template, tmp_path):
    """A private copy of the populated data dir as the app's data dir, fake models patched."""
    import core.loaders
    from core.settings import load_settings

    data_dir = tmp_path / "appdata"
    shutil.copytree(populated_template, data_dir)
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(data_dir))
    monkeypatch.setattr(core.loaders, "load_embedder", lambda settings: HashEmbedder())
    monkeypatch.setattr(core.loaders, "load_generator", lambda settings: tiny_generator)
    monkeypatch.setattr(core.loaders, "load_generator_tokenizer",  # no SmolLM2 conversion
                        lambda settings: (tiny_generator.tokenizer, False))
    good = tmp_path / "good"
    good.mkdir()
    for name, text in DOCS.items():
        (good / name).write_text(text)
    return load_settings()
