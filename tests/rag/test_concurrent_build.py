"""Several sessions building the same knowledge base at once (found by the browser tests).

Five browser sessions asking their first question on a fresh server all called
``ensure_default_kb``; without a write lock four of them failed with LanceDB's "Table 'default'
already exists". Now writes in one process run one at a time and the late ones add nothing.
"""

from __future__ import annotations

import threading

from core.rag.defaults import ensure_default_kb


def test_five_threads_building_the_default_kb_all_succeed(app_settings, embedder):
    from core.rag.store import KnowledgeStore

    errors: list[BaseException] = []
    reports = []
    barrier = threading.Barrier(5)

    def build() -> None:
        store = KnowledgeStore(app_settings, embedder, embedder_id="test-hash")  # one per rerun
        barrier.wait()
        try:
            reports.append(ensure_default_kb(store))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = KnowledgeStore(app_settings, embedder, embedder_id="test-hash")
    built = [r for r in reports if r is not None and r.chunks_added]
    assert len(built) == 1  # exactly one session did the work
    assert store.table("default").count_rows() == built[0].total_chunks
