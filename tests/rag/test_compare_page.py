"""Ask & compare through AppTest: what the browser shows while a new question is answered,
the intro naming the chosen base, and the sources table."""

from __future__ import annotations

import pytest

import core.answering as answer
from tests.rag.test_pages import open_page, pages_env

__all__ = ["pages_env"]


def queued_messages() -> list:
    """The ForwardMsgs this AppTest run has produced so far (read, not changed)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    return list(get_script_run_ctx()._enqueue.__self__.forward_msgs())


def browser_tree(previous: list, current: list) -> dict:
    """What the browser shows: the previous run's elements with this run's deltas applied.

    Mirrors the frontend (AppRoot): a new element at a path replaces whatever was there with
    its children; a block replacing a block of the same type keeps the old children. Returns
    {path: (run, element type, message)} with run "old" for elements not yet re-sent (stale).
    """
    tree: dict[tuple, tuple] = {}

    def drop_children(path):
        for p in [p for p in tree if len(p) > len(path) and p[:len(path)] == path]:
            del tree[p]

    for run, messages in (("old", previous), ("new", current)):
        for msg in messages:
            if not msg.HasField("delta"):
                continue
            path, kind = tuple(msg.metadata.delta_path), msg.delta.WhichOneof("type")
            if kind == "new_element":
                drop_children(path)
                tree[path] = (run, msg.delta.new_element.WhichOneof("type"), msg)
            elif kind == "add_block":
                block = msg.delta.add_block.WhichOneof("type")
                old = tree.get(path)
                if not (old and old[1] == ("block", block)):
                    drop_children(path)
                tree[path] = (run, ("block", block), msg)
    return tree


@pytest.fixture
def spy(monkeypatch):
    """Record, at the first answer of each page run, the messages sent so far."""
    seen: dict = {"runs": []}
    real = answer.stream_answer

    def spying(question, mode, ctx):
        current = queued_messages()
        if not seen["runs"] or seen["runs"][-1]["question"] != question:
            from streamlit.runtime.scriptrunner_utils.script_run_context import (
                get_script_run_ctx,
            )
            seen["runs"].append({"question": question, "at_first_answer": current,
                                 "runner": get_script_run_ctx()._enqueue.__self__})
        return real(question, mode, ctx)

    monkeypatch.setattr(answer, "stream_answer", spying)
    return seen


def test_previous_answers_and_ratings_vanish_when_a_new_question_starts(pages_env, spy):
    at = open_page("app_pages/compare.py")
    at.text_area(key="question").set_value("When was the oven built?")
    next(b for b in at.button if b.label == "Ask").click().run()
    assert at.feedback, "the first answers have rating widgets"
    first_run = spy["runs"][0]["runner"].forward_msgs()
    at.text_area(key="question").set_value("Who keeps the lighthouse?")
    next(b for b in at.button if b.label == "Ask").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = browser_tree(first_run, spy["runs"][1]["at_first_answer"])
    stale = {p: t for p, (run, t, _) in shown.items() if run == "old" and p[0] == 0}
    # Only a build notice and the build bar's emptied slot may linger until the run ends:
    # no answer, caption, source, rating or column of the previous question.
    assert set(stale.values()) <= {"alert", "empty"}, f"previous question still shown: {stale}"
    assert at.session_state["compare_run"]["question"] == "Who keeps the lighthouse?"
    assert len(at.feedback) == 2  # the new answers have their own ratings


def test_intro_names_the_chosen_base(pages_env):
    from core.rag.ingest import Document

    pages_env.add_documents("ops", [Document("runbook.md", "Restart the pump at dawn.", "md")])
    at = open_page("app_pages/compare.py")
    intro = at.caption[0].value.replace("\\", "")
    assert "knowledge base default" in intro and "fictional company" not in intro
    at.selectbox[0].set_value("ops").run()
    intro = at.caption[0].value.replace("\\", "")
    assert "knowledge base ops (1 document: runbook.md)" in intro


def test_sources_table_lists_the_useful_columns_first(pages_env):
    at = open_page("app_pages/compare.py")
    at.text_area(key="question").set_value("When was the oven built?")
    next(b for b in at.button if b.label == "Ask").click().run()
    table = at.dataframe[0].value
    assert list(table.columns) == ["#", "document", "score", "chunk"]
    sources = at.session_state["compare_run"]["results"]["rag"]["sources"]
    assert table["document"].tolist() == [s["document"] for s in sources]
