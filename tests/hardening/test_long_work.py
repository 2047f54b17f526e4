"""Issue 8 item 3 on the knowledge page: a build runs in the background (core.jobs), shows
progress, cannot start twice, and its result survives navigating away and back."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import REGISTRY
from tests.rag.conftest import HashEmbedder

APP = "../../app.py"


class GatedEmbedder(HashEmbedder):
    """Embeds the first batch, then waits for the test to open the gate."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def encode(self, sentences, **kwargs):
        if self.calls >= 1:
            assert self.gate.wait(30)
        return super().encode(sentences, **kwargs)


@pytest.fixture
def env(monkeypatch, app_settings):
    import core.st_cache as st_cache
    from core.rag.store import KnowledgeStore

    embedder = GatedEmbedder()
    store = KnowledgeStore(app_settings, embedder, embedder_id="test-hash")
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: store)
    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)
    yield store, embedder
    embedder.gate.set()


def test_build_in_background_survives_navigation_and_cannot_start_twice(env):
    store, embedder = env
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/knowledge.py").run()
    at.text_input[0].set_value("assets-kb")
    at.radio[0].set_value("Default documents (assets)").run()
    build = next(b for b in at.button if b.label == "Build")
    build.click().run()
    assert not at.exception, [e.value for e in at.exception]
    session = at.session_state["session_id"]
    job = REGISTRY.get("kb-build", session=session)
    assert job is not None and job.running
    assert next(b for b in at.button if b.label == "Build").disabled  # no double click
    # a second start (e.g. a click racing the rerun) joins the running build
    assert REGISTRY.start("kb-build", session=session) is job

    at.switch_page("app_pages/home.py").run()  # navigate away while it runs...
    assert not at.exception
    at.switch_page("app_pages/knowledge.py").run()  # ...and back: progress still shown
    bars = [p for p in at.get("progress")]
    assert bars and "Building" in bars[0].proto.text and "embedded" in bars[0].proto.text
    assert store.names() == []  # nothing written before the embeddings are all done

    embedder.gate.set()
    assert job.wait(60) and job.error is None, job.error
    at.run()
    at.run()
    assert any("assets-kb:" in s.value and "added" in s.value for s in at.success)
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/knowledge.py").run()  # the result is still there after navigation
    assert any("assets-kb:" in s.value for s in at.success)
    assert store.names() == ["assets-kb"] and store.summary("assets-kb")["chunks"] > 10


def test_build_error_is_shown_on_the_page(env, monkeypatch):
    store, embedder = env
    embedder.gate.set()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(store, "add_documents", boom)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/knowledge.py").run()
    at.text_input[0].set_value("kb-x")
    at.radio[0].set_value("Default documents (assets)").run()
    next(b for b in at.button if b.label == "Build").click().run()
    job = REGISTRY.get("kb-build", session=at.session_state["session_id"])
    assert job.wait(30)
    at.run()
    at.run()
    assert any("Build failed" in e.value and "disk full" in e.value for e in at.error)
    assert not at.exception
