"""Scenario tests of the compare and knowledge pages through AppTest (our core patched)."""

import io

import pytest
from streamlit.testing.v1 import AppTest

from core.feedback.store import SQLFeedbackStore
from tests.rag.test_ingest import make_pdf

APP = "../../app.py"


@pytest.fixture
def pages_env(monkeypatch, store, tiny_generator, app_settings):
    """The pages get our test store (hash embedder) and the tiny generator."""
    import core.st_cache as st_cache

    monkeypatch.setattr(st_cache, "get_rag_store", lambda: store)
    monkeypatch.setattr(st_cache, "get_generator", lambda: tiny_generator)
    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)
    return store


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page)
    return at.run()


def test_example_click_builds_default_kb_answers_twice_and_stores_rating(pages_env,
                                                                          app_settings):
    at = open_page("app_pages/compare.py")
    assert not at.exception, [e.value for e in at.exception]
    assert not pages_env.exists("default")  # built on the first question, not on page load
    assert any("built automatically" in i.value for i in at.info)
    assert at.selectbox[0].value == "default"
    example_buttons = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert len(example_buttons) == 6 and example_buttons[0].label.endswith("?")

    question = at.button(key="example-0").label
    at.button(key="example-0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert pages_env.summary("default")["documents"] >= 26
    run = at.session_state["compare_run"]
    assert run["question"] == question and set(run["results"]) == {"base", "rag"}
    assert run["results"]["rag"]["sources"] and not run["results"]["base"]["sources"]
    assert sum(c.value.startswith("Latency") and "tokens" in c.value for c in at.caption) == 2
    assert any("chunk" in e.label for e in at.expander)  # scores: in the sources table
    # No adapter trained yet: the fine-tuned columns say how to get one (issue #4).
    assert sum("No adapter" in i.value for i in at.info) == 2
    subheaders = [s.value for s in at.subheader]
    assert subheaders == ["Base", "RAG", "Fine-tuned", "Fine-tuned + RAG"]

    at.feedback[1].set_value(0).run()  # thumbs down on the RAG answer
    assert not at.exception
    rows = SQLFeedbackStore(app_settings.feedback_url).list_outputs(rated_only=True)
    assert len(rows) == 1 and rows[0].mode == "rag" and rows[0].rating == "down"
    assert rows[0].reward == -1 and rows[0].page == "compare"
    assert rows[0].prompt == question
    assert rows[0].retrieved_ids == run["results"]["rag"]["chunk_ids"]
    at.feedback[1].set_value(1).run()  # changing the rating updates the same record
    rows = SQLFeedbackStore(app_settings.feedback_url).list_outputs(rated_only=True)
    assert [(r.mode, r.rating, r.reward) for r in rows] == [("rag", "up", 1)]
    assert at.session_state["compare_run"]["id"] == run["id"]  # the rerun kept the answers
    assert sum(c.value.startswith("Latency") for c in at.caption) == 2


@pytest.mark.parametrize("question, needle", [("   ", "empty"), ("x" * 50_000, "50,000")])
def test_compare_bad_question_shows_an_error(pages_env, question, needle):
    at = open_page("app_pages/compare.py")
    at.text_area(key="question").set_value(question)
    ask = next(b for b in at.button if b.label == "Ask")
    ask.click().run()
    assert not at.exception
    assert any(needle in e.value for e in at.error)


def wait_for_build(at: AppTest) -> None:
    """Builds run in a background job (core.jobs): wait for it, then rerun like the poller."""
    from core.jobs import REGISTRY

    job = REGISTRY.get("kb-build", session=at.session_state["session_id"])
    assert job is not None and job.wait(60)
    at.run()
    at.run()


def test_knowledge_page_creates_from_upload_inspects_and_deletes(pages_env, monkeypatch):
    import core.rag.ingest as ingest

    at = open_page("app_pages/knowledge.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("No knowledge base yet" in i.value for i in at.info)

    class Upload(io.BytesIO):
        def __init__(self, name, data):
            super().__init__(data)
            self.name = name

    uploads = [Upload("memo.pdf", make_pdf("The Velmora vault opens at dawn.")),
               Upload("notes.md", b"# Notes\n\nThe tram runs every 12 minutes."),
               Upload("scan.pdf", make_pdf(None))]
    # AppTest cannot drive st.file_uploader: our upload reader gets these files instead.
    real = ingest.read_uploads
    monkeypatch.setattr(ingest, "read_uploads", lambda files, **kw: real(uploads, **kw))
    at.text_input[0].set_value("mine")
    next(b for b in at.button if b.label == "Build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("scan.pdf" in w.value and "no text layer" in w.value for w in at.warning)
    wait_for_build(at)
    assert any("mine: 2 added" in s.value for s in at.success)
    assert pages_env.summary("mine")["documents"] == 2

    at.selectbox(key="inspect-kb").set_value("mine").run()
    at.selectbox(key="inspect-doc").set_value("notes.md").run()
    assert at.button(key="delete-doc").disabled  # one click alone deletes nothing
    at.checkbox(key="confirm-doc:mine:notes.md").check().run()
    assert len(pages_env.documents("mine")) == 2
    at.button(key="delete-doc").click().run()
    assert [d["document"] for d in pages_env.documents("mine")] == ["memo.pdf"]
    at.selectbox(key="inspect-doc").set_value("memo.pdf").run()
    assert at.button(key="delete-doc").disabled  # the confirmation named the other document
    assert at.button(key="delete-kb").disabled  # until the name is typed
    at.text_input(key="confirm-delete").set_value("mine").run()
    at.button(key="delete-kb").click().run()
    assert not at.exception and pages_env.names() == []


def test_knowledge_page_refuses_a_bad_name(pages_env):
    at = open_page("app_pages/knowledge.py")
    at.text_input[0].set_value("../evil")
    at.radio[0].set_value("Default documents (assets)").run()
    next(b for b in at.button if b.label == "Build").click().run()
    assert any("not allowed" in e.value for e in at.error)
    assert pages_env.names() == []


def test_default_kb_notice_only_while_the_default_base_is_chosen(pages_env):
    """The 'built automatically' note speaks of the default base: choosing the user's own base
    makes it go away."""
    from core.rag.ingest import Document

    pages_env.add_documents("my-docs", [Document("notes.md", "Orbis was founded in 1901.", "md")])
    at = open_page("app_pages/compare.py")
    assert any("built automatically" in i.value for i in at.info)
    at.selectbox[0].set_value("my-docs").run()
    assert not any("built automatically" in i.value for i in at.info)
    assert not at.exception, [e.value for e in at.exception]
