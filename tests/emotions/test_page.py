"""The emotions page through AppTest: safe step display, train & compare, classify + rating."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.feedback.store import SQLFeedbackStore


@pytest.fixture
def page(app_settings):
    from core import st_cache

    st_cache.settings.clear()   # the cached Settings must point at this test's data dir
    at = AppTest.from_file("../../app.py", default_timeout=180)
    at.run()
    at.switch_page("app_pages/emotions.py").run()
    assert not at.exception
    return at


def wait_for_training(at: AppTest) -> None:
    """Training runs as a background job (core.jobs): wait for it, then poll like the page."""
    from core.jobs import REGISTRY

    assert REGISTRY.get("emo-train", session=at.session_state["session_id"]).wait(300)
    at.run()
    at.run()


def test_preprocess_trace_is_plain_text_without_links(page):
    page.text_area(key="emo_tweet").input(
        "<script>alert(1)</script> [x](http://e.co) see https://t.co/abc :smile: @amy so "
        "HAPPY 😂 <3").run()
    assert not page.exception
    trace = page.code[0].value
    lines = trace.splitlines()
    steps = [ln for ln in lines if re.match(r"\d+\. ", ln)]
    assert len(steps) == 13 and steps[-1].startswith("13. lemmatize")
    assert "removed: [x](http://e.co) https://t.co/abc" in trace and "<script>" in lines[0]
    assert "emoheart" in lines[-2] and "face with tears of joy" in trace
    # the emoji predictor's top 5 for the raw tweet, as plain text after the steps
    assert lines[-1].startswith("emoji predictor (features for the TF-IDF models): ")
    assert len(re.findall(r" \d\.\d\d", lines[-1])) == 5
    markdown = "\n".join(m.value for m in page.markdown)
    assert "](" not in markdown and "t.co" not in markdown and "<script>" not in markdown


def test_saved_results_listed_in_a_new_session(app_settings):
    from core import st_cache
    from core.emotions.datasets import load_demo
    from core.emotions.training import TrainConfig, train

    train(load_demo(), TrainConfig(model="linear_svc", name="earlier-svc"),
          app_settings.data_dir)
    st_cache.settings.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/emotions.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "macro F1" in d.value.columns)
    assert list(table["model"]) == ["earlier-svc"] and list(table["kind"]) == ["Linear SVC"]
    assert 0.3 < table.loc[0, "accuracy"] <= 1
    assert at.selectbox(key="emo_cm_pick").value == "earlier-svc"


def test_train_compare_classify_and_rate(page, app_settings, tiny_bert_base, monkeypatch):
    import core.loaders

    monkeypatch.setattr(core.loaders, "load_classifier_base",
                        lambda settings, labels: tiny_bert_base(labels))
    page.multiselect(key="emo_models").set_value(["linear_svc", "transformer"])
    page.number_input(key="emo_epochs").set_value(1)
    page.button(key="emo_train").click().run()
    wait_for_training(page)
    assert not page.exception and not page.error
    table = next(d.value for d in page.dataframe if "macro F1" in d.value.columns)
    assert list(table["kind"]) == ["Linear SVC", "Fine-tuned transformer"]
    assert table["macro F1"].between(0, 1).all()
    assert table.loc[0, "accuracy"] > 0.3   # 7 classes; chance for the majority class ~0.23
    saved = json.loads((app_settings.data_dir / "emotion_models" / "page-linear_svc"
                        / "settings.json").read_text())
    assert saved["emoji_signal"]["spec"] == "builtin:nade-emoji"   # the toggle's default: on
    fine_tuned = json.loads((app_settings.data_dir / "emotion_models" / "page-transformer"
                             / "settings.json").read_text())
    assert fine_tuned["encoders"] == 2 == fine_tuned["info"]["ensemble"]["size"]  # the default
    distilled = fine_tuned["info"]["distill"]                 # the toggle's default: on
    assert distilled["used"] and distilled["weight"] == 0.5 and "emoji" in distilled["teacher"]
    page.selectbox(key="emo_cls_model").set_value("page-linear_svc")
    page.text_area(key="emo_cls_text").input("I hate this, so angry and furious 😡").run()
    page.button(key="emo_cls_go").click().run()
    assert not page.exception
    assert page.metric[0].value == "anger"
    page.feedback[0].set_value(1).run()
    saved = SQLFeedbackStore(app_settings.feedback_url).list_outputs(rated_only=True)
    assert len(saved) == 1 and saved[0].rating == "up" and saved[0].output == "anger"
    assert (saved[0].mode, saved[0].model_id) == ("classifier", "emotion:page-linear_svc")


def test_emoji_toggle_off_saves_models_without_the_predictor(page, app_settings):
    """(On, the default, is checked in test_train_compare_classify_and_rate.)"""
    page.multiselect(key="emo_models").set_value(["linear_svc"])
    page.toggle(key="emo_emoji").set_value(False).run()
    page.button(key="emo_train").click().run()
    wait_for_training(page)
    assert not page.exception and not page.error
    saved = json.loads((app_settings.data_dir / "emotion_models" / "page-linear_svc"
                        / "settings.json").read_text())
    assert "emoji_signal" not in saved and saved["info"]["emoji_features"] is False


def test_distill_toggle_off_trains_the_transformer_from_the_labels_alone(
        page, app_settings, tiny_bert_base, monkeypatch):
    """(On, the default, is checked in test_train_compare_classify_and_rate.)"""
    import core.loaders

    monkeypatch.setattr(core.loaders, "load_classifier_base",
                        lambda settings, labels: tiny_bert_base(labels))
    page.multiselect(key="emo_models").set_value(["transformer"])
    page.number_input(key="emo_epochs").set_value(1)
    page.number_input(key="emo_ensemble").set_value(1)
    page.toggle(key="emo_distill").set_value(False).run()
    page.button(key="emo_train").click().run()
    wait_for_training(page)
    assert not page.exception and not page.error
    saved = json.loads((app_settings.data_dir / "emotion_models" / "page-transformer"
                        / "settings.json").read_text())
    assert saved["info"]["distill"] == {"weight": 0.0, "used": False}


def test_empty_tweet_gives_clear_error(page):
    page.multiselect(key="emo_models").set_value(["linear_svc"])
    page.button(key="emo_train").click().run()
    wait_for_training(page)
    page.text_area(key="emo_cls_text").input("   ").run()
    page.button(key="emo_cls_go").click().run()
    assert not page.exception
    assert any("empty" in e.value for e in page.error)


def test_data_tab_grouping_and_oversampling_charts(page):
    charts_before = len(page.get("plotly_chart"))
    page.button(key="emo_ship").click().run()
    page.toggle(key="emo_os_toggle").set_value(True).run()
    assert not page.exception and not page.error
    assert len(page.get("plotly_chart")) == charts_before + 1   # before/after oversampling
