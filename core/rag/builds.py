"""A knowledge-base build as background work, and the lines the Knowledge page shows about it.

The Knowledge page runs :func:`build_job` as a ``kb-build`` job (:mod:`core.jobs`, one per
session); the CLI calls :meth:`KnowledgeStore.add_documents` directly. Reading and checking the
documents is :mod:`core.rag.ingest`; chunking, embedding and writing is the store's. No
Streamlit here.

Example:
    >>> report_line(BuildReport("docs", added=["a.md"], chunks_added=3, total_chunks=3,
    ...                         seconds=1.25))
    'docs: 1 added, 0 replaced, 0 unchanged; 3 new chunks (0 duplicates skipped), 3 in all, 1.2 s.'
"""

from __future__ import annotations

from core import access
from core.errors import UserError
from core.rag import ingest
from core.rag.config import ChunkingConfig
from core.rag.defaults import DEFAULT_DOCS_DIR
from core.rag.store import BuildReport

TABLE_COLUMNS = ("kb", "documents", "chunks", "version", "embedder")


def report_line(report: BuildReport) -> str:
    """One line saying what a build did, followed by the store's messages (if any)."""
    return " ".join([f"{report.kb}: {len(report.added)} added, {len(report.replaced)} "
                     f"replaced, {len(report.unchanged)} unchanged; {report.chunks_added} new "
                     f"chunks ({report.duplicate_chunks} duplicates skipped), "
                     f"{report.total_chunks} in all, {report.seconds:.1f} s.", *report.messages])


def read_documents(files, *, defaults: bool, text_column: str, max_mb: int,
                   actor: access.Actor | None = None) -> tuple[list, list[str]]:
    """The default documents (``defaults``) or the uploaded ``files``, plus one message per
    file skipped (an empty document list is the caller's to refuse, with :data:`NO_DOCUMENTS`,
    after showing what was skipped). Uploads need an ``actor`` allowed ``upload``."""
    if defaults:
        return ingest.read_folder(DEFAULT_DOCS_DIR)
    access.require(actor, "upload")
    return ingest.read_uploads(files, text_column=text_column, max_bytes=max_mb * 1_000_000)


NO_DOCUMENTS = "no usable documents: upload at least one readable file"
CANCELLED = "cancelled before anything was written"


def build_job(job, *, store, kb: str, docs: list, chunking: ChunkingConfig) -> str:
    """The ``kb-build`` job (:data:`core.jobs.KINDS`): add ``docs`` to ``kb``; returns
    :func:`report_line`.

    Cancel is honoured between embedding batches, before anything is written (the store
    writes only once every chunk is embedded): the job ends with the error :data:`CANCELLED`.
    Once the embeddings are done (progress 1.0) the write runs to the end.
    """
    def progress(fraction: float, message: str) -> None:
        if job.cancel.is_set() and fraction < 1.0:
            raise UserError(CANCELLED)
        job.progress(fraction, message)

    return report_line(store.add_documents(kb, docs, chunking=chunking, progress=progress))


def summaries(store) -> list[dict]:
    """One row per knowledge base with the :data:`TABLE_COLUMNS` the page lists."""
    return [{k: s[k] for k in TABLE_COLUMNS} for s in map(store.summary, store.names())]
