"""The Experiment page through AppTest: derive questions, review them, run the experiment as a
background job (our own run_experiment replaced by a recorded result), render the verdict, the
tables and the report download; saved experiments reopen."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import core.jobs as jobs
from tests.experiment.conftest import DOCS
from tests.experiment.sample import sample_result
from tests.rag.conftest import HashEmbedder

APP = "../../app.py"


@pytest.fixture
def page_env(monkeypatch, app_settings, fresh_generator):
    import core.experiment.run as run
    import core.st_cache as st_cache
    from core.experiment.questions import derive_questions
    from core.finetune.pipeline import kb_chunks
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    embedder = HashEmbedder()
    store = KnowledgeStore(app_settings, embedder, embedder_id=app_settings.embedding_model)
    store.add_documents("exp", [Document(n, t, "md") for n, t in DOCS.items()])
    generator = fresh_generator()
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: store)
    monkeypatch.setattr(st_cache, "get_generator", lambda: generator)
    monkeypatch.setattr(st_cache, "get_embedder", lambda: embedder)
    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)
    monkeypatch.setattr(jobs, "REGISTRY", jobs.JobRegistry())
    # the real derivation, without the recipe check (it needs the real tokenizer)
    monkeypatch.setattr(run, "questions_for", lambda settings, kb, n: derive_questions(
        kb_chunks(settings, kb), max_questions=n))
    calls = []

    def fake_run(settings, config, *, items=None, progress=None, **kwargs):
        calls.append((config, list(items or [])))
        progress(0.5, "halfway")
        result = sample_result()
        run.save_experiment(settings, result)
        return result

    monkeypatch.setattr(run, "run_experiment", fake_run)
    return calls


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/experiment.py")
    return at.run()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_derive_review_run_and_render(page_env):
    at = open_page()
    assert not at.exception, [e.value for e in at.exception]
    assert button(at, "Run the experiment").disabled  # no questions yet
    button(at, "Derive questions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [m.value for m in at.markdown if "questions** from" in m.value]
    assert shown and shown[0].startswith("**10 questions**"), shown
    assert not button(at, "Run the experiment").disabled
    button(at, "Run the experiment").click().run()
    assert not at.error, [e.value for e in at.error]
    job = jobs.REGISTRY.get("experiment")  # the recorded run may finish (and be
    if job is not None:                    # collected by the page) before we look
        assert job.wait(60)
        at.run()
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    config, items = page_env[0]
    assert config.kb == "exp" and config.minutes == 6.0 and len(items) == 10
    assert any("RAG beats fine" in i.value for i in at.info)
    assert len(at.dataframe) >= 4  # scores, verdicts, costs, freshness (+ saved list)
    assert any(d.label == "Download the report (HTML)" for d in at.get("download_button"))
    assert any("Changed 1994 to 1997" in c.value for c in at.caption)


def test_a_saved_experiment_reopens(page_env, app_settings):
    from core.experiment.run import save_experiment

    save_experiment(app_settings, sample_result())
    at = open_page()
    button(at, "Open this experiment").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("RAG beats fine" in i.value for i in at.info)
