"""Fixtures for the RAG tests: a deterministic bag-of-words embedder and small document sets."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from core.rag.ingest import Document

DIM = 64


class HashEmbedder:
    """Deterministic fake: each lower-cased word adds 1 to a hashed dimension; L2-normalised.

    Texts sharing words get high cosine similarity, which is all the search tests need.
    """

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after

    def encode(self, sentences, **kwargs):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("embedder crashed (simulated)")
        out = np.zeros((len(sentences), DIM), np.float32)
        for i, s in enumerate(sentences):
            for w in re.findall(r"[a-z0-9]+", s.lower()):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


DOCS = {
    "orchids.md": "# Orchids\n\nThe Velmora greenhouse grows blue orchids. They need misting "
                  "twice a day.\n\nHead gardener Ilsa Marek planted the first orchid in 2011.",
    "trains.txt": "The Northline tram leaves Harbor Square every 12 minutes. Tickets cost 3 "
                  "crowns.\n\nNight trams run on Fridays only.",
    "bakery.md": "Corvin's bakery sells rye bread and poppy-seed rolls. The oven was built in "
                 "1932 and burns beech wood.",
}


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture
def docs() -> list[Document]:
    return [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()]


@pytest.fixture
def store(app_settings, embedder):
    from core.rag.store import KnowledgeStore

    return KnowledgeStore(app_settings, embedder, embedder_id="test-hash")
