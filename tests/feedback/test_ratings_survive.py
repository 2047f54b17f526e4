"""A stored rating changes only by a click: leaving a page and coming back keeps it.

Streamlit drops a widget's state when its page is left; the re-created widget must show the
saved rating (seeded from the store) and must not write anything by itself.
"""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.feedback.store import SQLFeedbackStore

APP = "../../app.py"


def _rows(settings) -> list[tuple[str, str | None]]:
    store = SQLFeedbackStore(settings.feedback_url)
    try:
        return [(r.mode, r.rating) for r in store.list_outputs()]
    finally:
        store.close()


def _away_and_back(at: AppTest, page: str) -> AppTest:
    at.switch_page("app_pages/home.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def compare_env(monkeypatch, tiny_generator, app_settings):
    """The compare page gets a hash-embedder knowledge store and the tiny generator."""
    import core.st_cache as st_cache
    from core.rag.store import KnowledgeStore
    from tests.rag.conftest import HashEmbedder

    kb = KnowledgeStore(app_settings, HashEmbedder(), embedder_id="test-hash")
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: kb)
    monkeypatch.setattr(st_cache, "get_generator", lambda: tiny_generator)
    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)


def test_compare_rating_and_preference_survive_leaving_the_page(compare_env, app_settings):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/compare.py").run()
    at.button(key="example-0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.feedback[1].set_value(1).run()  # thumbs up on the RAG answer
    at.radio(key=next(r.key for r in at.radio if r.key.startswith("fb_pref_"))) \
        .set_value("B is better").run()
    assert _rows(app_settings) == [("base", None), ("rag", "up")]

    for _ in range(2):
        _away_and_back(at, "app_pages/compare.py")
        assert _rows(app_settings) == [("base", None), ("rag", "up")]
        assert [f.value for f in at.feedback] == [None, 1]  # the widget shows the saved thumbs
        pref = next(r for r in at.radio if r.key.startswith("fb_pref_"))
        assert pref.value == "B is better"
        store = SQLFeedbackStore(app_settings.feedback_url)
        assert [p.choice for p in store.list_preferences()] == ["b"]
        store.close()

    at.feedback[1].set_value(0).run()  # a click after coming back still changes the record
    assert _rows(app_settings) == [("base", None), ("rag", "down")]


def test_thumbs_down_comment_is_shown_again_after_coming_back(app_settings):
    def script():
        import streamlit as st

        from app_pages._feedback_widget import rating_widget

        if st.session_state.get("show", True):
            rating_widget("k1", page="compare", mode="rag", prompt="Q?", output="A")

    at = AppTest.from_function(script, default_timeout=30).run()
    at.feedback[0].set_value(0).run()
    at.text_input(key="fb_comment_k1").set_value("made up")
    at.button[0].click().run()
    # Not rendered for a run: Streamlit drops the widgets' state, as when the page is left.
    at.session_state["show"] = False
    at.run()
    at.session_state["show"] = True
    at.run()
    assert at.feedback[0].value == 0
    assert at.text_input(key="fb_comment_k1").value == "made up"
    store = SQLFeedbackStore(app_settings.feedback_url)
    (row,) = store.list_outputs()
    assert (row.rating, row.comment) == ("down", "made up")
    store.close()


@pytest.fixture
def emotions_page(app_settings):
    from core import st_cache

    st_cache.settings.clear()   # the cached Settings must point at this test's data dir
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("app_pages/emotions.py").run()
    assert not at.exception
    at.multiselect(key="emo_models").set_value(["linear_svc"])
    at.button(key="emo_train").click().run()
    from core.jobs import REGISTRY

    assert REGISTRY.get("emo-train", session=at.session_state["session_id"]).wait(120)
    at.run()
    at.run()
    assert not at.exception and not at.error
    return at


def test_classifier_and_batch_ratings_survive_leaving_the_page(emotions_page, app_settings):
    at = emotions_page
    at.selectbox(key="emo_cls_model").set_value("page-linear_svc")
    at.text_area(key="emo_cls_text").input("I hate this, so angry and furious").run()
    at.button(key="emo_cls_go").click().run()
    at.feedback[0].set_value(0).run()
    assert _rows(app_settings) == [("classifier", "down")]

    # A classified batch as "Classify all" leaves it; row 1 rated 👍 in the table and saved.
    labels = list(at.session_state["emo_pred"]["scores"])
    frame = pd.DataFrame({"text": ["so happy", "so sad"], "predicted": ["joy", "sadness"]})
    at.session_state["emo_batch_out"] = (frame.assign(**{f"p_{lab}": 0.5 for lab in labels}), 0)
    at.session_state["emo_batch_text"] = "text"
    at.session_state["emo_batch_table"] = {"edited_rows": {1: {"feedback": "👍"}},
                                           "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="emo_batch_rate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _rows(app_settings) == [("classifier", "down"), ("classifier", "up")]

    _away_and_back(at, "app_pages/emotions.py")
    assert _rows(app_settings) == [("classifier", "down"), ("classifier", "up")]
    assert at.feedback[0].value == 0                       # the classifier's saved thumb
    table = at.dataframe(key="emo_batch_table").value
    assert list(table["feedback"].fillna("")) == ["", "👍"]  # the table shows the saved one
    at.button(key="emo_batch_rate").click().run()          # saving again writes nothing new
    store = SQLFeedbackStore(app_settings.feedback_url)
    rows = store.list_outputs()
    store.close()
    assert [(r.prompt, r.output, r.rating) for r in rows[1:]] == [("so sad", "sadness", "up")]


def test_a_second_batch_does_not_overwrite_the_first_batch_ratings(app_settings):
    """Rows are known by model, prompt and output: row 0 of a new table is a new record."""
    def script():
        import pandas as pd
        import streamlit as st

        from app_pages._feedback_widget import batch_ratings_editor

        df = pd.DataFrame({"text": [st.session_state.get("tweet", "first")]})
        batch_ratings_editor("b", df, lambda i: {"page": "emotions", "mode": "classifier",
                                                 "prompt": df.at[i, "text"], "output": "joy"})

    at = AppTest.from_function(script, default_timeout=30)
    for tweet, mark in (("first", "👍"), ("second", "👎")):
        at.session_state["tweet"] = tweet
        at.session_state["b_table"] = {"edited_rows": {0: {"feedback": mark}},
                                       "added_rows": [], "deleted_rows": []}
        at.run()
        at.button(key="b_rate").click().run()
    store = SQLFeedbackStore(app_settings.feedback_url)
    assert [(r.prompt, r.rating) for r in store.list_outputs()] == [
        ("first", "up"), ("second", "down")]
    store.close()
