"""Issue 8 item 4, page side: hostile widget input and uploads through AppTest and through the
pure functions every upload goes through (AppTest cannot drive ``st.file_uploader``).

Expected for every case: no exception, a clear one-line ``st.error``/warning naming the
problem, user text shown literally (never inside an ``unsafe_allow_html`` markdown block), and
the data directory unchanged (see :func:`tests.hardening.conftest.snapshot`).
"""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import UserError
from tests.hardening.conftest import snapshot
from tests.hardening.test_hostile_cli import BAD_FILES, CSV_FILES, HTML, PATHS
from tests.rag.conftest import HashEmbedder

APP = "../../app.py"


class Upload(io.BytesIO):
    """What st.file_uploader hands the page: bytes with a ``.name``."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name


def assert_safe(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for m in at.markdown:
        if m.allow_html:
            assert "<script" not in m.value.lower() and "onerror" not in m.value.lower()


@pytest.fixture
def pages(populated, monkeypatch):
    import core.st_cache as st_cache
    from core.rag.store import KnowledgeStore

    settings = dataclasses.replace(populated, max_upload_mb=2)  # the huge file is over it
    store = KnowledgeStore(settings, HashEmbedder())
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: store)
    monkeypatch.setattr(st_cache, "settings", lambda: settings)
    st_cache.emotion_model.clear()
    return settings


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert_safe(at)
    return at


# -- pure upload paths ------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_knowledge_upload_reader_rejects_with_one_line(case):
    from core.rag.ingest import read_uploads

    name, data = BAD_FILES[case]
    docs, rejected = read_uploads([Upload(name, data)], max_bytes=2_000_000)
    assert docs == [] and len(rejected) == 1
    assert "\n" not in rejected[0] and name.split(".")[0] in rejected[0]


@pytest.mark.parametrize("name", ["../../etc/passwd.md", "/etc/passwd.txt", "a\x00b.md",
                                  "..", "<script>x</script>.md", " .md", "x" * 300 + ".md"])
def test_knowledge_upload_names_are_sanitised(name):
    """A path-like upload name is reduced to a plain base name (or refused), never a path."""
    from core.rag.ingest import read_uploads

    docs, rejected = read_uploads([Upload(name, b"Plain text body.")])
    for d in docs:
        assert "/" not in d.name and "\x00" not in d.name and ".." not in d.name.strip(".")
        assert "<" not in d.name and len(d.name) <= 120
    assert len(docs) + len(rejected) == 1


@pytest.mark.parametrize("fname", sorted(f for f in CSV_FILES if f.endswith(".csv")
                                         and f != "ok.csv"))
def test_emotions_csv_loader_rejects_with_one_line(fname):
    from core.emotions.datasets import labelled, read_csv

    with pytest.raises(UserError) as err:
        labelled(read_csv(CSV_FILES[fname], 2, fname), name=fname)
    assert "\n" not in str(err.value) and fname in str(err.value)


@pytest.mark.parametrize("fname", sorted(f for f in CSV_FILES if f.startswith("config_")))
def test_memory_config_upload_parser_rejects_with_one_line(fname):
    from core.memory.config_input import from_upload

    with pytest.raises(UserError) as err:
        from_upload(CSV_FILES[fname], fname, max_mb=2)
    assert "\n" not in str(err.value).strip()


# -- pages ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PATHS, ids=[repr(p)[:20] for p in PATHS])
def test_knowledge_page_refuses_hostile_kb_names(pages, name):
    before = snapshot(pages)
    at = open_page("app_pages/knowledge.py")
    at.text_input[0].set_value(name)
    at.radio[0].set_value("Default documents (assets)").run()
    next(b for b in at.button if b.label == "Build").click().run()
    assert_safe(at)
    assert any("not allowed" in e.value for e in at.error), [e.value for e in at.error]
    assert snapshot(pages) == before


def test_knowledge_page_hostile_uploads_all_refused_and_nothing_stored(pages, monkeypatch):
    import core.rag.ingest as ingest

    before = snapshot(pages)
    uploads = [Upload(n, d) for n, d in BAD_FILES.values()]
    real = ingest.read_uploads
    monkeypatch.setattr(ingest, "read_uploads", lambda files, **kw: real(uploads, **kw))
    at = open_page("app_pages/knowledge.py")
    at.text_input[0].set_value("kb1")
    at.text_input[1].set_value("../../etc/passwd")  # the CSV/JSONL text column
    next(b for b in at.button if b.label == "Build").click().run()
    assert_safe(at)
    assert any("no usable documents" in e.value for e in at.error)
    assert len(at.warning) == len(uploads)
    assert snapshot(pages) == before


@pytest.mark.parametrize("hub_id", [*PATHS[:4], HTML, "owner/" + "x" * 300])
def test_memory_page_hostile_hub_id_gives_an_error(pages, hub_id):
    before = snapshot(pages)
    at = open_page("app_pages/memory.py")
    at.radio[0].set_value("Hub id").run()
    at.text_input[0].set_value(hub_id).run()
    assert_safe(at)
    assert at.error and all("\n" not in e.value.strip() for e in at.error)
    assert snapshot(pages) == before


@pytest.mark.parametrize("text", ["", "   \n\t", HTML + " so happy", "x" * 2000,
                                  "\x00\x01 binary \ufffd", "café".encode().decode("latin-1")])
def test_emotions_page_hostile_tweets_shown_as_text(pages, text):
    before = snapshot(pages)
    at = open_page("app_pages/emotions.py")
    at.text_area(key="emo_tweet").input(text).run()
    assert_safe(at)
    at.selectbox(key="emo_cls_model").set_value("emo1")
    at.text_area(key="emo_cls_text").input(text).run()
    at.button(key="emo_cls_go").click().run()
    assert_safe(at)
    if not text.strip():
        assert any("empty" in e.value for e in at.error)
    else:
        assert at.metric[0].value in {"joy", "sadness", "anger"}
    if "<script>" in text:
        assert "<script>" in at.code[0].value  # literally, in a plain-text element
        assert "<script>" not in "\n".join(m.value for m in at.markdown)
    assert snapshot(pages)["files"] == before["files"] or _only_feedback_changed(before, pages)


def _only_feedback_changed(before: dict, settings) -> bool:
    after = snapshot(settings)
    return after["tables"] == before["tables"] and after["feedback"] == before["feedback"]


def test_compare_page_html_question_is_shown_as_text(pages, tiny_generator, monkeypatch):
    import core.st_cache as st_cache

    monkeypatch.setattr(st_cache, "get_generator", lambda: tiny_generator)
    before = snapshot(pages)
    at = open_page("app_pages/compare.py")
    at.selectbox[0].set_value("kb1")  # not the default base (built on first use)
    at.text_area(key="question").input(HTML + " Who planted the first orchid?")
    next(b for b in at.button if b.label == "Ask").click().run()
    assert_safe(at)
    at.run()  # the stored run re-rendered
    assert_safe(at)
    shown = "\n".join(m.value for m in at.markdown)
    assert "\\<script\\>" in shown and "<script>" not in shown
    assert snapshot(pages)["tables"] == before["tables"]  # answers are logged; no KB changes


@pytest.mark.parametrize("name", [*PATHS, HTML])
def test_feedback_page_refuses_hostile_adapter_names(pages, name):
    from core.feedback.store import open_store

    store = open_store(pages)
    for i in range(6):
        store.record_output(session_id="s", page="compare", mode="rag", prompt=f"x{i}",
                            output="y", rating="down" if i % 2 else "up")
    store.close()
    before = snapshot(pages)
    at = open_page("app_pages/feedback.py")
    at.text_input(key="fb_learn_name").set_value(name).run()
    assert_safe(at)
    assert at.button(key="fb_learn_go").disabled
    assert any("adapter" in w.value.lower() or "name" in w.value.lower() for w in at.warning)
    assert snapshot(pages) == before


@pytest.mark.parametrize("fname", sorted(f for f in CSV_FILES if f.startswith("qa_")))
def test_evaluate_qa_upload_parser_rejects_with_one_line(fname):
    """The evaluate page decodes uploads as UTF-8 then parses them with parse_qa_text."""
    from core.qa import parse_qa_text

    data = CSV_FILES[fname]
    with pytest.raises((UserError, UnicodeDecodeError)) as err:
        parse_qa_text(data.decode("utf-8"), fname)
    if err.type is UserError:
        assert "\n" not in str(err.value).strip()


@pytest.mark.parametrize("name", [n for n in PATHS if n != "my kb"] + [HTML])
def test_finetune_page_refuses_hostile_adapter_names(pages, name):
    before = snapshot(pages)
    at = open_page("app_pages/finetune.py")
    at.text_input(key="ft_name").set_value(name).run()
    assert_safe(at)
    if not name.strip():  # an emptied name field goes back to the suggested, valid name
        assert re.fullmatch(r"[a-z0-9_-]{1,64}", at.text_input(key="ft_name").value)
        assert snapshot(pages) == before
        return
    assert any("adapter name" in e.value or "invalid" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert next(b for b in at.button if b.label == "Start training").disabled
    assert snapshot(pages) == before
