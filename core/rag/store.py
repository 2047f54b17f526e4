"""Knowledge bases as LanceDB tables: build, add, list, inspect, delete, never half-written.

One table per knowledge base under ``settings.lancedb_location``; each row is a chunk with its
document name, position, character span, content hashes, the embedding (``vector``, L2-normalised
so cosine = dot) and the text, which carries LanceDB's native full-text index
(``create_index("text", config=FTS())``). The table's schema metadata records the embedder
and dimension so a base is never queried with vectors from another model.

Safety: all chunking and embedding happens before the first write; the writes (delete replaced
documents, append, re-index) run after noting ``table.version`` and any failure or interrupt
restores that version (a new table is dropped instead). Lance commits are atomic, but a build
is several commits (delete, append, index), so a process killed between two of them would leave
a half-built base: before the first write a small journal file ``_building-<kb>.json`` records
the version to go back to and the writer's pid and host (:mod:`core.rag.journal`, beside the
tables: a local folder or the same object-storage prefix); the next :class:`KnowledgeStore`
finds journals whose writer is dead and restores (or drops) those tables. Object storage
(``s3://bucket/path``) is reached with the storage options from settings (endpoint, keys,
region, allow-http).
Re-adding a document with the same content is
a no-op; changed content replaces it; chunks whose content hash is already in the base are
skipped. Retrieval lives in :mod:`core.rag.retrieve`.

Example:
    >>> store = KnowledgeStore(settings, embedder)  # doctest: +SKIP
    >>> store.add_documents("default", docs).chunks_added  # doctest: +SKIP
    142
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from core import access
from core.errors import UserError
from core.rag.chunking import chunk_text, content_hash
from core.rag.config import ChunkingConfig, RetrievalConfig, check_kb_name
from core.rag.ingest import Document
from core.rag.journal import BuildJournal, writer_alive

Progress = Callable[[float, str], None]
EMBED_BATCH = 32
# Writes from several browser sessions of one server (e.g. five first questions all building
# the default base) run one at a time: the second then finds the base and adds nothing.
_WRITE_LOCK = threading.RLock()


class Embedder(Protocol):
    """What we need from a sentence embedder (SentenceTransformer fits)."""

    def encode(self, sentences: list[str], **kwargs: Any) -> np.ndarray: ...


@dataclass
class BuildReport:
    kb: str
    documents: int = 0
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_added: int = 0
    duplicate_chunks: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)


def sql_str(value: str) -> str:
    """A SQL string literal: ``it's`` -> ``'it''s'``."""
    return "'" + value.replace("'", "''") + "'"


def embed_texts(embedder: Embedder, texts: list[str], progress: Progress | None = None,
                batch_size: int = EMBED_BATCH) -> np.ndarray:
    """Normalised float32 embeddings in input order, encoded in batches with progress.

    Texts are sorted longest first before batching (as ``SentenceTransformer.encode`` does
    internally) so batches pad little; cutting the work into calls only adds progress reports.
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out: np.ndarray | None = None
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        vecs = np.asarray(embedder.encode([texts[j] for j in idx], batch_size=batch_size,
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False), dtype=np.float32)
        if out is None:
            out = np.empty((len(texts), vecs.shape[1]), np.float32)
        out[idx] = vecs
        if progress:
            done = i + len(idx)
            progress(min(1.0, done / len(texts)), f"embedded {done}/{len(texts)} chunks")
    return out if out is not None else np.zeros((0, 0), np.float32)


def _schema(dim: int, embedder_id: str) -> pa.Schema:
    return pa.schema([
        pa.field("id", pa.string()), pa.field("document", pa.string()),
        pa.field("position", pa.int32()), pa.field("start", pa.int32()),
        pa.field("end", pa.int32()), pa.field("text", pa.string()),
        pa.field("chunk_hash", pa.string()), pa.field("doc_hash", pa.string()),
        pa.field("fmt", pa.string()), pa.field("added_at", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dim)),
    ], metadata={"embedder": embedder_id, "dim": str(dim)})


class KnowledgeStore:
    """All knowledge bases of one LanceDB location, embedded with one embedder."""

    def __init__(self, settings, embedder: Embedder | None = None, *,
                 embedder_id: str | None = None):
        import lancedb

        self.settings = settings
        self._embedder = embedder
        self.embedder_id = embedder_id or settings.embedding_model
        location = settings.lancedb_location
        if "://" not in location:
            settings.ensure_data_dir()
        options = getattr(settings, "lancedb_storage_options", {})
        self.db = lancedb.connect(location, storage_options=options or None)
        self._journal = BuildJournal.for_location(location, options)
        self.recovered = self._recover()

    # -- crash recovery ---------------------------------------------------------------------
    def _begin(self, kb: str, version: int | None) -> None:
        if self._journal is not None:
            self._journal.write(kb, {"kb": kb, "version": version})

    def _end(self, kb: str) -> None:
        if self._journal is not None:
            self._journal.remove(kb)

    def _recover(self) -> list[str]:
        """Undo builds whose process died mid-write; returns one message per base restored."""
        if self._journal is None:
            return []
        done = []
        for entry in self._journal.entries():
            if writer_alive(entry):
                continue  # a build in progress (in this or another process or host)
            kb, version = entry["kb"], entry["version"]
            if version is None:
                self.db.drop_table(kb, ignore_missing=True)
                done.append(f"{kb}: dropped the half-built new base")
            elif kb in self.names():
                tbl = self.db.open_table(kb)
                if tbl.version != version:
                    tbl.restore(version)
                done.append(f"{kb}: restored version {version} after an interrupted build")
            self._journal.done(entry)
        return done

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from core.loaders import load_embedder

            self._embedder = load_embedder(self.settings)
        return self._embedder

    # -- listing ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        names, token = [], None
        while True:
            resp = self.db.list_tables(page_token=token)
            names += list(resp.tables)
            token = resp.page_token
            if not token:
                creating = self._being_created()
                return sorted(n for n in names if not n.startswith("_") and n not in creating)

    def _being_created(self) -> set[str]:
        """Bases a live build is creating right now: listed by LanceDB, not yet readable."""
        if self._journal is None:
            return set()
        return {e["kb"] for e in self._journal.entries()
                if e["version"] is None and writer_alive(e)}

    def exists(self, kb: str) -> bool:
        return check_kb_name(kb) in self.names()

    def table(self, kb: str):
        """The open table of ``kb``; UserError if it does not exist or has another embedder."""
        if not self.exists(kb):
            raise UserError(f"knowledge base {kb!r} does not exist; create it first "
                            f"(existing: {', '.join(self.names()) or 'none'})")
        tbl = self.db.open_table(kb)
        built_with = (tbl.schema.metadata or {}).get(b"embedder", b"").decode()
        if built_with and built_with != self.embedder_id:
            raise UserError(f"knowledge base {kb!r} was embedded with {built_with}; the current "
                            f"embedder is {self.embedder_id}: rebuild it or switch back")
        return tbl

    def documents(self, kb: str) -> list[dict]:
        """One row per document: name, format, chunks, characters, added_at."""
        cols = ["document", "fmt", "text", "added_at"]
        t = self.table(kb).to_arrow().select(cols).to_pandas()
        if t.empty:
            return []
        t["chars"] = t["text"].str.len()
        g = t.groupby("document", sort=True).agg(
            fmt=("fmt", "first"), chunks=("text", "size"), chars=("chars", "sum"),
            added_at=("added_at", "max"))
        return [{"document": d, **{k: (int(v) if k in ("chunks", "chars") else v)
                                   for k, v in row.items()}} for d, row in g.iterrows()]

    def summary(self, kb: str) -> dict:
        tbl = self.table(kb)
        docs = self.documents(kb)
        indices = [f"{i.index_type} on {', '.join(i.columns)}" for i in tbl.list_indices()]
        return {"kb": kb, "documents": len(docs), "chunks": tbl.count_rows(),
                "version": tbl.version, "indices": indices,
                "embedder": (tbl.schema.metadata or {}).get(b"embedder", b"").decode()}

    def sample_chunks(self, kb: str, document: str | None = None, limit: int = 5) -> list[dict]:
        q = self.table(kb).search()
        if document:
            q = q.where(f"document = {sql_str(document)}")
        rows = q.select(["id", "document", "position", "text"]).limit(10_000).to_list()
        rows.sort(key=lambda r: (r["document"], r["position"]))
        return rows[:limit]

    # -- writing -----------------------------------------------------------------------------
    def add_documents(self, kb: str, docs: list[Document], *,
                      chunking: ChunkingConfig | None = None,
                      retrieval: RetrievalConfig | None = None,
                      progress: Progress | None = None) -> BuildReport:
        """Chunk, embed and store ``docs`` in ``kb`` (created if missing); see module doc."""
        with _WRITE_LOCK:
            return self._add_documents(kb, docs, chunking=chunking, retrieval=retrieval,
                                       progress=progress)

    def _add_documents(self, kb, docs, *, chunking, retrieval, progress) -> BuildReport:
        start = time.perf_counter()
        check_kb_name(kb)
        if not docs:
            raise UserError("no documents to add")
        report = BuildReport(kb, documents=len(docs))
        tbl = self.table(kb) if self.exists(kb) else None
        existing = (tbl.to_arrow().select(["document", "doc_hash", "chunk_hash"]).to_pylist()
                    if tbl is not None else [])
        doc_hash_of = {r["document"]: r["doc_hash"] for r in existing}
        replaced, rows_meta, texts = self._plan(docs, chunking or ChunkingConfig(), doc_hash_of,
                                                existing, report)
        if progress:
            progress(0.0, f"{len(texts)} new chunks from {len(docs)} document(s)")
        vectors = embed_texts(self.embedder, texts, progress) if texts else None
        if texts or replaced:
            self._write(kb, tbl, replaced, rows_meta, vectors, retrieval or RetrievalConfig(),
                        report)
        report.total_chunks = self.table(kb).count_rows() if self.exists(kb) else 0
        report.seconds = time.perf_counter() - start
        if progress:
            progress(1.0, f"{kb}: {report.total_chunks} chunks stored")
        return report

    def _plan(self, docs, chunking, doc_hash_of, existing, report):
        seen_names: set[str] = set()
        replaced: list[str] = []
        for doc in docs:
            if doc.name in seen_names:
                raise UserError(f"two documents are named {doc.name!r}; rename one")
            seen_names.add(doc.name)
            if doc_hash_of.get(doc.name) == content_hash(doc.text):
                report.unchanged.append(doc.name)
            elif doc.name in doc_hash_of:
                replaced.append(doc.name)
        known = {r["chunk_hash"] for r in existing if r["document"] not in replaced}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows_meta, texts = [], []
        for doc in docs:
            if doc.name in report.unchanged:
                continue
            (report.replaced if doc.name in replaced else report.added).append(doc.name)
            doc_hash = content_hash(doc.text)
            for c in chunk_text(doc.text, chunking):
                if c.hash in known:
                    report.duplicate_chunks += 1
                    continue
                known.add(c.hash)
                rows_meta.append({"id": f"{doc.name}#{c.position}", "document": doc.name,
                                  "position": c.position, "start": c.start, "end": c.end,
                                  "text": c.text, "chunk_hash": c.hash, "doc_hash": doc_hash,
                                  "fmt": doc.fmt, "added_at": now})
                texts.append(c.text)
        return replaced, rows_meta, texts

    def _write(self, kb, tbl, replaced, rows_meta, vectors, retrieval, report) -> None:
        from core.rag.retrieve import ensure_indexes

        data = None
        if rows_meta:
            dim = vectors.shape[1]
            data = pa.Table.from_pylist(
                [{**m, "vector": v} for m, v in zip(rows_meta, vectors.tolist(), strict=True)],
                schema=_schema(dim, self.embedder_id))
        if tbl is None:
            self._begin(kb, None)
            tbl = self.db.create_table(kb, data=data, schema=data.schema)
            try:
                report.messages += ensure_indexes(tbl, retrieval)
            except BaseException:
                self.db.drop_table(kb, ignore_missing=True)
                self._end(kb)
                raise
        else:
            before = tbl.version
            self._begin(kb, before)
            try:
                for name in replaced:
                    tbl.delete(f"document = {sql_str(name)}")
                if data is not None:
                    self._check_dim(kb, tbl, data)
                    tbl.add(data)
                report.messages += ensure_indexes(tbl, retrieval)
            except BaseException:
                tbl.restore(before)
                self._end(kb)
                raise
        self._end(kb)
        report.chunks_added = len(rows_meta)

    @staticmethod
    def _check_dim(kb, tbl, data) -> None:
        want = tbl.schema.field("vector").type.list_size
        got = data.schema.field("vector").type.list_size
        if want != got:
            raise UserError(f"{kb!r} stores {want}-d vectors; this embedder makes {got}-d")

    def delete_document(self, kb: str, document: str, *,
                        actor: access.Actor | None = None) -> int:
        """Remove every chunk of ``document``; returns the number of chunks removed.

        ``actor`` must be allowed ``delete`` (None: the process's actor, see core.access)."""
        access.require(actor, "delete")
        from core.rag.retrieve import ensure_indexes

        tbl = self.table(kb)
        n = tbl.count_rows(f"document = {sql_str(document)}")
        if n == 0:
            raise UserError(f"{kb!r} has no document named {document!r}")
        before = tbl.version
        self._begin(kb, before)
        try:
            tbl.delete(f"document = {sql_str(document)}")
            ensure_indexes(tbl, RetrievalConfig())
        except BaseException:
            tbl.restore(before)
            raise
        finally:
            self._end(kb)
        return n

    def delete_kb(self, kb: str, *, actor: access.Actor | None = None) -> None:
        access.require(actor, "delete")  # see core.access
        if not self.exists(kb):
            raise UserError(f"knowledge base {kb!r} does not exist")
        self.db.drop_table(kb)
