"""Experiment: RAG vs fine-tuning on your own documents, with no QA file.

Widgets in, core calls (core.experiment; wording and tables from core.presenters.experiment),
charts out. Questions are derived from the chosen knowledge base and reviewed in an editable
table; the experiment (fine-tune, five modes, costs, freshness, verdict) runs as one background
job (one per server, core.jobs) shown by the shared job panel (progress, ETA, Cancel); the
result is saved under data_dir/experiments and offered as a self-contained HTML report.
"""

from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._job_panel import forget_job, job_panel, job_running, locked, start_job
from app_pages._ui import kb_names
from core import st_cache
from core.errors import UserError
from core.experiment import run as experiment
from core.experiment.questions import rows as question_rows
from core.experiment.report import report_html
from core.presenters import evaluate as shared
from core.presenters import experiment as presenter
from core.rag.highlight import escape_markdown

keep = partial(shared.keep, st.session_state)  # values survive switching pages

st.title("Experiment: RAG vs fine-tuning on your documents")
st.caption(presenter.INTRO)
settings = st_cache.settings()
running = job_running("experiment") or locked("train")
kbs = kb_names()

c1, c2, c3 = st.columns([2, 1, 1])
kb = c1.selectbox("Knowledge base", kbs,
                  key=keep("exp-kb", shared.preferred(kbs, "default"), kbs.__contains__))
minutes = c2.number_input("Fine-tuning minutes", 0.25, 120.0, step=0.25,
                          key=keep("exp-minutes", presenter.DEFAULTS.minutes),
                          help="The time budget; training stops early when held-out wordings "
                               "stop improving.")
max_questions = c3.number_input("Questions (at most)", 1, 200,
                                key=keep("exp-max-questions", presenter.DEFAULTS.max_questions))
fresh = st.checkbox("Freshness test (change one fact, re-index, ask again)",
                    key=keep("exp-freshness", True))
shared.remember(st.session_state, presenter.KEEP)

if st.button("Derive questions", disabled=job_running("experiment")):
    try:
        items = experiment.questions_for(settings, kb, int(max_questions))
        st.session_state[presenter.QUESTIONS_KEY] = {"kb": kb, "rows": question_rows(items)}
    except UserError as exc:
        st.error(str(exc))

derived = st.session_state.get(presenter.QUESTIONS_KEY)
items = None
if derived and derived["kb"] == kb:
    st.markdown(f"**{len(derived['rows'])} questions** from {escape_markdown(kb)}: edit a "
                "cell, tick Drop to leave a question out (choices and aliases are separated "
                "by ' | ').")
    edited = st.data_editor(presenter.questions_frame(derived["rows"]), hide_index=True,
                            disabled=["id", "type", "source", "sentence"],
                            key=f"exp-editor-{kb}")
    try:
        items = presenter.edited_items(edited)
    except UserError as exc:
        st.error(str(exc))

fresh_question, fresh_value = "", ""
if items and fresh:
    f1, f2 = st.columns(2)
    ids = ["automatic", *[i.id for i in items]]
    fresh_question = f1.selectbox("Fact to change", ids, help="automatic: the first question "
                                  "whose answer is a year, number, amount or time")
    fresh_value = f2.text_input("Its new value", max_chars=200,
                                help="empty: the old value with its last digits moved by 3")
    fresh_question = "" if fresh_question == "automatic" else fresh_question

if st.button("Run the experiment", type="primary", disabled=running or not items):
    try:
        config = experiment.ExperimentConfig(kb=kb, minutes=float(minutes),
                                             max_questions=int(max_questions), freshness=fresh,
                                             fresh_question=fresh_question,
                                             fresh_value=fresh_value)
        start_job("experiment", settings=settings, config=config, items=items,
                  generator=st_cache.get_generator(), embedder=st_cache.get_embedder(),
                  store=st_cache.get_rag_store())
    except UserError as exc:
        st.error(str(exc))


def _finished(snap: dict) -> None:
    if snap["result"]:
        st.session_state[presenter.RESULT_KEY] = snap["result"]
        forget_job("experiment")


job_panel("experiment", title="Experiment", on_done=_finished,
          cancel_note="Stops at the next micro-batch or question; nothing is saved.")

result = st.session_state.get(presenter.RESULT_KEY)
if result:
    verdict = result["verdict"]
    st.subheader("Verdict")
    st.info(escape_markdown(verdict["headline"]))
    for line in verdict["lines"]:
        st.markdown("- " + escape_markdown(line))
    st.subheader("Scores")
    st.dataframe(presenter.modes_frame(result), hide_index=True)
    bars = px.bar(presenter.chart_frame(result), x="mode", y="answer hit", error_y="plus",
                  error_y_minus="minus", range_y=[0, 1], title="Answer hit (95 % interval)")
    st.plotly_chart(bars, key=f"exp-bars-{result['report']['id']}")
    st.markdown("**Paired verdicts** (same questions, answer hit)")
    st.dataframe(presenter.verdicts_frame(result), hide_index=True)
    st.subheader("Cost")
    st.caption(escape_markdown(presenter.training_line(result)))
    st.dataframe(presenter.costs_frame(result), hide_index=True)
    st.subheader("Freshness")
    st.caption(escape_markdown(presenter.freshness_line(result)))
    freshness = presenter.freshness_frame(result)
    if freshness is not None:
        st.dataframe(freshness, hide_index=True)
    st.download_button("Download the report (HTML)", report_html(result),
                       file_name=presenter.report_name(result), mime="text/html")

st.divider()
st.subheader("Saved experiments")
saved = experiment.list_experiments(settings)
if not saved:
    st.caption("No saved experiments yet.")
else:
    st.dataframe(pd.DataFrame(saved), hide_index=True)
    chosen = st.selectbox("Open", [s["id"] for s in saved])
    if st.button("Open this experiment"):
        try:
            st.session_state[presenter.RESULT_KEY] = experiment.load_experiment(settings, chosen)
            st.rerun()
        except UserError as exc:
            st.error(str(exc))
