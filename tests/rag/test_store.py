"""LanceDB store: build, dedup on re-add, replace, delete, safe failure, names, embedder checks."""

import pytest

from core.errors import UserError
from core.rag.ingest import Document
from core.rag.retrieve import search
from core.rag.store import KnowledgeStore, sql_str
from tests.rag.conftest import HashEmbedder


def _rows(store, kb):
    return sorted(store.table(kb).to_arrow().select(["id", "text"]).to_pylist(),
                  key=lambda r: r["id"])


def test_build_lists_and_inspects(store, docs):
    report = store.add_documents("kb1", docs)
    assert report.added == ["orchids.md", "trains.txt", "bakery.md"]
    assert report.chunks_added == report.total_chunks == 3
    assert any("exact vector search" in m for m in report.messages)
    assert store.names() == ["kb1"]
    summary = store.summary("kb1")
    assert summary["documents"] == 3 and summary["chunks"] == 3
    assert summary["indices"] == ["FTS on text"] and summary["embedder"] == "test-hash"
    assert [d["document"] for d in store.documents("kb1")] == sorted(d.name for d in docs)
    sample = store.sample_chunks("kb1", document="trains.txt")
    assert sample[0]["id"] == "trains.txt#0" and "Northline" in sample[0]["text"]


def test_re_adding_the_same_documents_adds_nothing(store, docs):
    store.add_documents("kb1", docs)
    before, version = _rows(store, "kb1"), store.table("kb1").version
    report = store.add_documents("kb1", docs)
    assert report.unchanged == [d.name for d in docs] and report.chunks_added == 0
    assert _rows(store, "kb1") == before
    assert store.table("kb1").version == version  # not even a new version


def test_changed_document_replaces_its_chunks(store, docs):
    store.add_documents("kb1", docs)
    report = store.add_documents("kb1", [Document("bakery.md", "The bakery closed.", "md")])
    assert report.replaced == ["bakery.md"]
    texts = [r["text"] for r in _rows(store, "kb1") if r["id"].startswith("bakery")]
    assert texts == ["The bakery closed."]
    assert store.table("kb1").count_rows() == 3


def test_identical_chunk_in_another_document_is_skipped(store, docs):
    store.add_documents("kb1", docs)
    copy = Document("copy.md", docs[0].text, "md")
    report = store.add_documents("kb1", [copy])
    assert report.duplicate_chunks == 1 and report.chunks_added == 0
    assert store.table("kb1").count_rows() == 3


def test_same_name_twice_in_one_batch_is_refused(store, docs):
    with pytest.raises(UserError, match="two documents are named"):
        store.add_documents("kb1", [docs[0], docs[0]])
    assert store.names() == []


def test_failed_embedding_leaves_previous_version_usable(app_settings, docs):
    store = KnowledgeStore(app_settings, HashEmbedder(fail_after=1), embedder_id="test-hash")
    store.add_documents("kb1", docs)  # one embed call for 3 chunks
    before = _rows(store, "kb1")
    with pytest.raises(RuntimeError, match="simulated"):
        store.add_documents("kb1", [Document("new.md", "Brand new text here.", "md")])
    assert _rows(store, "kb1") == before
    assert search(store.__class__(app_settings, HashEmbedder(), embedder_id="test-hash"),
                  "kb1", "blue orchids")[0].document == "orchids.md"


def test_failure_during_write_restores_the_previous_version(store, docs, monkeypatch):
    import core.rag.retrieve as retrieve

    store.add_documents("kb1", docs)
    before = _rows(store, "kb1")

    def boom(tbl, cfg):
        raise KeyboardInterrupt  # an interrupt after rows were appended and old ones deleted

    monkeypatch.setattr(retrieve, "ensure_indexes", boom)
    changed = Document("bakery.md", "Completely different bakery text.", "md")
    with pytest.raises(KeyboardInterrupt):
        store.add_documents("kb1", [changed, Document("x.md", "Extra doc.", "md")])
    monkeypatch.undo()
    assert _rows(store, "kb1") == before
    assert search(store, "kb1", "oven built", ).__len__() == 3


def test_failed_first_build_leaves_no_table(store, docs, monkeypatch):
    import core.rag.retrieve as retrieve

    monkeypatch.setattr(retrieve, "ensure_indexes", lambda t, c: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        store.add_documents("kb1", docs)
    assert store.names() == []


def test_delete_document_and_base(store, docs):
    store.add_documents("kb1", docs)
    store.add_documents("kb2", docs[:1])
    assert store.delete_document("kb1", "trains.txt") == 1
    assert [d["document"] for d in store.documents("kb1")] == ["bakery.md", "orchids.md"]
    with pytest.raises(UserError, match="no document named"):
        store.delete_document("kb1", "trains.txt")
    store.delete_kb("kb1")
    assert store.names() == ["kb2"]  # the other base is untouched
    with pytest.raises(UserError, match="does not exist"):
        store.delete_kb("kb1")


def test_document_names_with_quotes_are_safe_in_filters(store):
    store.add_documents("kb1", [Document("it's.md", "Quoted name text.", "md"),
                                Document("x' OR '1'='1.md", "Injection attempt.", "md")])
    assert store.delete_document("kb1", "it's.md") == 1
    assert [d["document"] for d in store.documents("kb1")] == ["x' OR '1'='1.md"]
    assert sql_str("it's") == "'it''s'"


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "A", "", "a b", "x" * 65, "kb.lance",
                                  "naïve"])
def test_bad_kb_names_are_refused_and_nothing_is_written(store, docs, name):
    store.add_documents("good", docs[:1])
    with pytest.raises(UserError, match="not allowed"):
        store.add_documents(name, docs)
    assert store.names() == ["good"]


def test_missing_base_and_other_embedder_are_clear_errors(app_settings, store, docs):
    with pytest.raises(UserError, match="does not exist"):
        store.table("nope")
    store.add_documents("kb1", docs)
    other = KnowledgeStore(app_settings, HashEmbedder(), embedder_id="another-model")
    with pytest.raises(UserError, match="embedded with test-hash"):
        search(other, "kb1", "orchids")
