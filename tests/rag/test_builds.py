"""core.rag.builds: the Knowledge page's build job body, its summary line and its cancel."""

from __future__ import annotations

import threading
import typing

import pytest

from core.errors import UserError
from core.jobs import KINDS, JobRegistry
from core.rag.builds import CANCELLED, build_job, read_documents, report_line, summaries
from core.rag.config import ChunkingConfig
from core.rag.store import BuildReport


def run(**params):
    job = JobRegistry({"kb-build": KINDS["kb-build"]}).start("kb-build", session="s", **params)
    assert job.wait(30)
    return job


def test_build_job_adds_documents_and_returns_the_summary_line(store, docs):
    job = run(store=store, kb="notes", docs=docs,
              chunking=ChunkingConfig(chunk_size=200, chunk_overlap=20))
    assert job.error is None
    assert job.result.startswith("notes: 3 added, 0 replaced, 0 unchanged;")
    assert summaries(store) == [{"kb": "notes", "documents": 3,
                                 "chunks": store.summary("notes")["chunks"],
                                 "version": store.summary("notes")["version"],
                                 "embedder": store.summary("notes")["embedder"]}]


def test_cancel_before_the_embeddings_are_done_writes_nothing(store, docs):
    """The first progress report after the cancel (0.0, before embedding) ends the work."""
    class CancelledJob:
        cancel = threading.Event()
        reports: typing.ClassVar[list] = []

        def progress(self, fraction, message):
            self.reports.append(fraction)

    CancelledJob.cancel.set()
    with pytest.raises(UserError, match=CANCELLED):
        build_job(CancelledJob(), store=store, kb="notes", docs=docs, chunking=ChunkingConfig())
    assert CancelledJob.reports == [] and store.names() == []


def test_report_line_appends_the_store_messages():
    """1 added + 1 replaced, 4 new chunks of which 1 duplicate skipped, 9 in all, 0.04 s."""
    line = report_line(BuildReport("kb", added=["a"], replaced=["b"], chunks_added=4,
                                   duplicate_chunks=1, total_chunks=9, seconds=0.04,
                                   messages=["restored version 2"]))
    assert line == ("kb: 1 added, 1 replaced, 0 unchanged; 4 new chunks (1 duplicates "
                    "skipped), 9 in all, 0.0 s. restored version 2")


def test_read_documents_keeps_what_it_skipped():
    class Upload:
        def __init__(self, name, data):
            self.name, self._data = name, data

        def getvalue(self):
            return self._data

    docs, skipped = read_documents([Upload("a.txt", b"hello"), Upload("b.txt", b"")],
                                   defaults=False, text_column="text", max_mb=1)
    assert [d.name for d in docs] == ["a.txt"] and len(skipped) == 1 and "b.txt" in skipped[0]
    docs, _ = read_documents(None, defaults=True, text_column="text", max_mb=1)
    assert len(docs) > 3
