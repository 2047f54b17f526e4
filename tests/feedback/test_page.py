"""The dashboard and the rating widgets through AppTest, on a seeded temp database."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.feedback.store import open_store
from core.finetune.preference import LearnResult
from tests.feedback.conftest import seed

APP = "../../app.py"
HOSTILE = "<script>alert('x')</script> **bold** [link](http://evil)"


@pytest.fixture
def seeded(app_settings):
    store = open_store(app_settings)
    ids = seed(store)
    store.record_output(session_id="s4", page="compare", mode="rag", prompt=HOSTILE,
                        output=HOSTILE, rating="down", comment=HOSTILE)
    yield store, ids
    store.close()


def _dashboard() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/feedback.py")
    return at.run()


def test_dashboard_shows_seeded_feedback(seeded):
    at = _dashboard()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.metric] == ["8", "7", "57%", "2"]  # 4 up of 7 rated
    assert len(at.tabs) == 6  # ... Learn from feedback, Feedback drill (simulated)
    assert "8 of 8 answers" in [c.value for c in at.caption]
    assert "too little feedback to learn from" in at.warning[0].value
    assert at.button(key="fb_learn_go").disabled
    assert "No adapter trained from feedback yet: learn one above." in [
        c.value for c in at.caption]  # the before/after section, until an adapter exists
    # drill-down defaults to the question with most answers ("What is LoRA?", 3 answers)
    texts = [t.value for t in at.text]
    assert "What is LoRA?" in texts and "Low-rank adapters." in texts
    # user text is never rendered as markdown/HTML
    assert not any("<script>" in m.value for m in at.markdown)


@pytest.mark.parametrize(("search", "shown"), [("lora", 3), ("<script>", 1), ("zzz", 0)])
def test_table_search_is_plain_text(seeded, search, shown):
    at = _dashboard()
    at.text_input(key="fb_f_search").set_value(search).run()
    assert f"{shown} of 8 answers" in [c.value for c in at.caption]
    assert len(at.dataframe[2].value) == shown  # [0] ranking, [1] win rates


def test_learn_button_runs_training_and_keeps_the_result(seeded, monkeypatch):
    store, _ = seeded
    for i in range(2):
        store.record_output(session_id="s", page="compare", mode="base", prompt=f"x{i}",
                            output="meh", rating="down")
    calls = {}

    def fake_learn(store, generator, settings, config, *, base_adapter=None, hooks=None):
        calls["config"] = config
        for step, loss in ((1, 0.5), (2, 0.4)):
            hooks.step(step, 2, loss)
            hooks.progress(step / 2, f"step {step}/2: loss {loss}")
        return LearnResult(config.adapter, "/tmp/x", "kto", 9, 0.45,
                           [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}], 1.5,
                           {"feedback": {"sha256": "abc"}})

    monkeypatch.setattr("core.finetune.preference.learn_from_feedback", fake_learn)
    monkeypatch.setattr("core.st_cache.get_generator", lambda: object())
    at = _dashboard()
    assert "Ready: KTO on 9 examples" in at.info[0].value
    at.text_input(key="fb_learn_name").set_value("my-adapter")
    at.button(key="fb_learn_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    from core.jobs import REGISTRY  # learning runs as a background job: wait, then poll

    assert REGISTRY.get("fb-learn", session=at.session_state["session_id"]).wait(30)
    at.run()
    at.run()
    assert calls["config"].adapter == "my-adapter"
    assert "Adapter 'my-adapter' saved" in at.success[0].value
    at.run()  # a rerun keeps the result (session state)
    assert "Adapter 'my-adapter' saved" in at.success[0].value


def _widget_script():
    import streamlit as st

    from app_pages._feedback_widget import preference_widget, rating_widget, record_output_once

    fields = {"page": "compare", "mode": "rag", "prompt": "Q?", "output": "answer A"}
    rating_widget("run1:rag", **fields)
    a = record_output_once("run1:rag", **fields)
    b = record_output_once("run1:base", **{**fields, "mode": "base", "output": "answer B"})
    preference_widget("run1:pref", a, b)
    st.write("ok")


def test_rating_widget_updates_one_record_and_takes_a_comment(app_settings):
    at = AppTest.from_function(_widget_script, default_timeout=30)
    at.session_state["session_id"] = "sess-w"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    store = open_store(app_settings)
    assert [(r.mode, r.rating) for r in store.list_outputs()] == [("rag", None), ("base", None)]
    at.feedback[0].set_value(1).run()
    at.feedback[0].set_value(0).run()   # changed to thumbs-down: same record, comment opens
    at.text_input(key="fb_comment_run1:rag").set_value("wrong facts")
    at.button[0].click().run()
    assert "Comment saved." in [s.value for s in at.success]
    rows = store.list_outputs()
    assert len(rows) == 2
    assert (rows[0].rating, rows[0].reward, rows[0].comment, rows[0].session_id) == (
        "down", -1, "wrong facts", "sess-w")
    at.radio(key="fb_pref_run1:pref").set_value("B is better").run()
    at.radio(key="fb_pref_run1:pref").set_value("Tie").run()
    (pref,) = store.list_preferences()
    assert (pref.output_a_id, pref.output_b_id, pref.choice) == (rows[0].id, rows[1].id, "tie")
    store.close()


def test_rating_widget_shows_a_failed_write(app_settings, monkeypatch):
    from core.feedback.store import FeedbackWriteError, SQLFeedbackStore

    def broken(self, *args, **kwargs):
        raise FeedbackWriteError("could not save the answer (sqlite): OperationalError: locked")

    at = AppTest.from_function(_widget_script, default_timeout=30)
    monkeypatch.setattr(SQLFeedbackStore, "set_rating", broken)
    at.run()
    at.feedback[0].set_value(1).run()
    assert any("Your rating was NOT saved" in e.value and "locked" in e.value for e in at.error)


def test_before_after_section_runs_the_comparison_and_keeps_it(seeded, app_settings,
                                                               monkeypatch):
    """A feedback adapter (parent fb-v1) is compared; chart, delta table and answers stay
    after a rerun. compare_versions is OUR core function, patched; its numbers are shown."""
    import json

    for name, parent in (("fb-v1", None), ("fb-v2", "fb-v1"), ("plain", None)):
        folder = app_settings.data_dir / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))
        meta = {"kind": "feedback", "parent_adapter": parent} if name != "plain" else {}
        (folder / "metadata.json").write_text(json.dumps(meta))
    calls = {}

    def fake_compare(settings, adapter, items, modes, *, generator, embedder, store, progress,
                     actor=None):
        calls.update(adapter=adapter, n=len(items), modes=list(modes))
        progress(0.5, "fb-v1: question 1/2")
        agg_b = {"exact_match": 0.0, "f1": 0.25, "mc_accuracy": 0.5, "relevance": 0.4,
                 "grounding_overlap": None, "seconds_per_question": 1.0}
        agg_a = {**agg_b, "f1": 0.5, "mc_accuracy": 1.0}
        delta = {k: (None if agg_a[k] is None else agg_a[k] - agg_b[k]) for k in agg_a}
        return {"adapter": adapter, "parent": "fb-v1", "n": len(items), "modes": ["finetuned"],
                "before": {"label": "fb-v1", "modes": {"finetuned": agg_b}},
                "after": {"label": adapter, "modes": {"finetuned": agg_a}},
                "delta": {"finetuned": delta},
                "questions": [{"id": "q1", "mode": "finetuned", "question": "Who?",
                               "gold": "Ada", "before": "Bob", "after": "Ada",
                               "before_f1": 0.0, "after_f1": 1.0}]}

    monkeypatch.setattr("core.evaluation.versions.compare_versions", fake_compare)
    monkeypatch.setattr("core.st_cache.get_generator", lambda: object())
    monkeypatch.setattr("core.st_cache.get_embedder", lambda: object())
    monkeypatch.setattr("core.st_cache.get_rag_store", lambda: object())
    at = _dashboard()
    assert at.selectbox(key="fb_cmp_adapter").options == ["fb-v1", "fb-v2"]  # feedback only
    at.selectbox(key="fb_cmp_adapter").set_value("fb-v2")
    at.number_input(key="fb_cmp_limit").set_value(3)
    at.button(key="fb_cmp_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    from core.jobs import REGISTRY

    assert REGISTRY.get("fb-compare", session=at.session_state["session_id"]).wait(30)
    assert calls == {"adapter": "fb-v2", "n": 3, "modes": ["finetuned"]}
    at.run()  # the job panel sees the finished job and keeps its result
    at.run()  # a rerun keeps the result
    assert "Before: fb-v1 · after: fb-v2 · 3 questions." in [s.value for s in at.success]
    frames = [d.value for d in at.dataframe]
    delta = next(f for f in frames if "delta (after - before)" in f.columns)
    f1 = delta[delta["metric"] == "f1"].iloc[0]
    assert (f1["before"], f1["after"], f1["delta (after - before)"]) == (0.25, 0.5, 0.25)
    answers = next(f for f in frames if "F1 after" in f.columns)
    assert list(answers.iloc[0][["before", "after"]]) == ["Bob", "Ada"]


def test_rated_items_table_leads_with_prompt_answer_rating_and_comment(seeded):
    import json

    at = _dashboard()
    table = at.dataframe[2].proto  # [0] is the ranking, [1] the win-rate table
    assert list(table.column_order)[:4] == ["prompt", "output", "rating", "comment"]
    assert list(table.column_order)[-4:] == ["id", "created_at", "updated_at", "session_id"]
    config = json.loads(table.columns)
    assert config["output"]["label"] == "answer" and config["output"]["width"] == "large"
    assert table.row_height > 64  # taller than 4rem: the grid wraps long text


def test_ranking_and_simulated_toggle(seeded, app_settings):
    """Seed games: rag beats base 2 and ties once, rag beats finetuned once -> rag first.
    Simulated ratings appear only once the toggle is on."""
    store = open_store(app_settings)
    store.record_output(session_id="d", page="drill", mode="base", prompt="Sim?", output="s",
                        rating="up", source="simulated")
    store.close()
    at = _dashboard()
    ranking = at.dataframe[0].value
    assert list(ranking["name"]) == ["rag", "base", "finetuned"]
    assert list(ranking["n"]) == [4, 3, 1]
    assert "8 of 8 answers" in [c.value for c in at.caption]
    at.toggle(key="fb_include_sim").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "9 of 9 answers" in [c.value for c in at.caption]


def test_drill_tab_says_what_it_simulates_and_runs_as_a_job(seeded, app_settings,
                                                            monkeypatch):
    """run_drill is OUR core function, patched: the button starts it as a background job with
    the page's settings; its result is shown with the interval and the verdict."""
    from core.finetune.preference_loop import DrillResult

    calls = {}

    def fake_drill(settings, config, *, generator, store, feedback, hooks, actor):
        calls.update(questions=config.questions, mode=config.mode, store=store)
        hooks.say(0.5, "training")
        return DrillResult("answer_hit", 0.4, 0.55, 0.15, [0.07, 0.23], 640.0, "drill-x",
                           {"heldout_questions": 124})

    monkeypatch.setattr("core.finetune.preference_loop.run_drill", fake_drill)
    monkeypatch.setattr("core.st_cache.get_generator", lambda: object())
    at = _dashboard()
    assert any("simulated user gives 👍 when the answer contains the gold answer" in m.value
               for m in at.markdown)
    at.number_input(key="fb_drill_q").set_value(10)
    at.selectbox(key="fb_drill_mode").set_value("base")
    at.button(key="fb_drill_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    from core.jobs import REGISTRY

    assert REGISTRY.get("fb-drill", session=at.session_state["session_id"]).wait(30)
    at.run()
    at.run()
    assert calls == {"questions": 10, "mode": "base", "store": None}
    message = next(s.value for s in at.success if "held-out" in s.value)
    assert "0.400 before, 0.550 after; delta +0.150 (95 % CI +0.070 to +0.230): helped" \
        in message
