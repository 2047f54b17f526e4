"""Knowledge bases on S3 (``moto`` in server mode): build, search, delete, crash journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.fs as pafs
import pytest

from core.rag.config import RetrievalConfig
from core.rag.ingest import Document
from core.rag.retrieve import search
from core.rag.store import KnowledgeStore
from tests.rag.conftest import DOCS, HashEmbedder


@pytest.fixture
def docs():
    return [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()]


@pytest.fixture
def s3_store(s3_settings):
    return KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")


def bucket_files(settings) -> list[str]:
    from core.rag.journal import _s3_filesystem

    fs = _s3_filesystem(settings.lancedb_storage_options)
    base = settings.lancedb_uri.removeprefix("s3://")
    return sorted(i.base_name for i in fs.get_file_info(pafs.FileSelector(base,
                                                                          allow_not_found=True)))


def test_settings_give_lancedb_the_storage_options(s3_settings, s3_endpoint):
    assert s3_settings.lancedb_storage_options == {
        "aws_endpoint": s3_endpoint, "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing", "aws_region": "us-east-1", "allow_http": "true"}


def test_build_lives_in_the_bucket_and_every_search_works(s3_store, s3_settings, docs):
    report = s3_store.add_documents("kb1", docs)
    assert report.chunks_added == 3 and s3_store.names() == ["kb1"]
    assert "kb1.lance" in bucket_files(s3_settings)  # on the emulator, not on disk
    assert s3_store.summary("kb1")["indices"] == ["FTS on text"]  # native FTS on S3
    for mode in ("vector", "fts", "hybrid"):
        hits = search(s3_store, "kb1", "When do night trams run?",
                      RetrievalConfig(top_k=1, search=mode))
        assert [h.document for h in hits] == ["trains.txt"], mode
    # a second store (another app replica) sees the same base
    other = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    assert other.names() == ["kb1"] and other.table("kb1").count_rows() == 3


def test_delete_document_and_base(s3_store, s3_settings, docs):
    s3_store.add_documents("kb1", docs)
    assert s3_store.delete_document("kb1", "bakery.md") == 1
    hits = search(s3_store, "kb1", "rye bread oven", RetrievalConfig(top_k=3, search="fts"))
    assert "bakery.md" not in [h.document for h in hits]
    s3_store.delete_kb("kb1")
    assert s3_store.names() == [] and "kb1.lance" not in bucket_files(s3_settings)
    assert not [f for f in bucket_files(s3_settings) if f.startswith("_building-")]


def test_failed_update_restores_the_previous_version(s3_settings, docs, monkeypatch):
    store = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    store.add_documents("kb1", docs[:1])
    version = store.table("kb1").version
    failing = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")

    def boom(*args, **kwargs):
        raise RuntimeError("index build crashed (simulated)")

    monkeypatch.setattr("core.rag.retrieve.ensure_indexes", boom)  # after the append
    with pytest.raises(RuntimeError, match="simulated"):
        failing.add_documents("kb1", docs[1:])
    assert store.table("kb1").count_rows() == 1
    assert [r["document"] for r in store.documents("kb1")] == [docs[0].name]
    assert store.table("kb1").version > version  # restored as a new version
    assert not [f for f in bucket_files(s3_settings) if f.startswith("_building-")]


def _journal(settings, entry: dict) -> None:
    from core.rag.journal import _s3_filesystem

    fs = _s3_filesystem(settings.lancedb_storage_options)
    path = settings.lancedb_uri.removeprefix("s3://") + f"/_building-{entry['kb']}.json"
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(entry).encode())


def _dead_pid() -> int:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_crash_journal_in_the_bucket_restores_a_dead_build(s3_settings, docs):
    """A build killed between its delete and its append left version N+1 (one document gone)
    and its journal naming version N: the next store restores N; a live or another host's
    build is left alone."""
    from core.rag.journal import HOST

    store = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    store.add_documents("kb1", docs)
    version = store.table("kb1").version
    store.table("kb1").delete("document = 'bakery.md'")  # the half-done build's first write
    assert store.table("kb1").count_rows() == 2

    _journal(s3_settings, {"kb": "kb1", "version": version, "pid": _dead_pid(),
                           "host": "another-replica"})
    assert KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash").recovered == []
    _journal(s3_settings, {"kb": "kb1", "version": version, "pid": _dead_pid(), "host": HOST})
    recovered = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    assert recovered.recovered == [f"kb1: restored version {version} after an interrupted build"]
    assert recovered.table("kb1").count_rows() == 3
    assert "_building-kb1.json" not in bucket_files(s3_settings)


def test_crash_journal_hides_a_live_creation_and_drops_a_dead_one(s3_settings, docs):
    from core.rag.journal import HOST

    store = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    store.add_documents("kb1", docs)
    _journal(s3_settings, {"kb": "kb1", "version": None, "pid": os.getpid(), "host": HOST})
    assert store.names() == []  # being created by a live build: not readable yet
    _journal(s3_settings, {"kb": "kb1", "version": None, "pid": _dead_pid(), "host": HOST})
    recovered = KnowledgeStore(s3_settings, HashEmbedder(), embedder_id="test-hash")
    assert recovered.recovered == ["kb1: dropped the half-built new base"]
    assert recovered.names() == [] and "kb1.lance" not in bucket_files(s3_settings)


def test_standard_aws_variables_reach_the_bucket(s3_settings, s3_endpoint, docs, tmp_path):
    """Only the AWS_* variables name the endpoint, keys and region (given to load_settings,
    not to this process's environment, so LanceDB and the journal see them only through the
    settings): a base is built in the bucket and found by a search."""
    from core.settings import load_settings

    settings = load_settings({
        "NLPLAB_DATA_DIR": str(tmp_path / "appdata"),
        "NLPLAB_LANCEDB_URI": s3_settings.lancedb_uri,
        "NLPLAB_LANCEDB_ALLOW_HTTP": "true", "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1"})
    store = KnowledgeStore(settings, HashEmbedder(), embedder_id="test-hash")
    store.add_documents("aws", docs)
    hits = search(store, "aws", "When do night trams run?", RetrievalConfig(top_k=1))
    assert [h.document for h in hits] == ["trains.txt"]
    assert "aws.lance" in bucket_files(settings)
