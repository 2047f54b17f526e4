"""Feedback dashboard: what the thumbs say per mode and model, exports, learning, the drill.

Widgets in, core calls (core.feedback.stats / export / ranking, learning), charts out; wording and
table rows from core.presenters.feedback. Learning, the drill and the before/after comparison run as
background jobs (core.jobs) through the shared job panel; the tabs' parts live in
app_pages/_feedback_*.py and app_pages/_before_after.py.
"""

from datetime import UTC, datetime

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages._feedback_drill import drill_section
from app_pages._feedback_learn import learn_section
from app_pages._feedback_ranking import ranking_section
from app_pages._job_panel import actor, locked
from core.errors import UserError
from core.feedback import export, stats
from core.presenters import feedback as presenter
from core.settings import load_settings
from core.st_cache import get_feedback_store

st.title("Feedback dashboard")
st.caption("Every thumbs up/down in the app is a reward signal (+1/-1). This page shows what "
           "they say per mode and model, exports them for preference training (KTO/DPO) and "
           "trains a new LoRA adapter from them.")

sim = st.toggle("Include simulated ratings (from the feedback drill)", key="fb_include_sim")
try:
    store = get_feedback_store()
    records = store.list_outputs(include_simulated=sim)
    prefs = store.list_preferences(include_simulated=sim)
except UserError as exc:
    st.error(f"The feedback database cannot be opened: {exc}")
    st.stop()
rated = [r for r in records if r.rating is not None]
headline = presenter.headline_metrics(records, prefs)
for col, (label, value) in zip(st.columns(4), headline, strict=True):
    col.metric(label, value)
if not records:
    st.info("No feedback yet. Rate answers on **Ask & compare** or **Tweet emotions** "
            "(👍/👎 under each answer); they appear here.")
overview, table, drill, downloads, learn, drill_tab = st.tabs(
    ["Overview", "Rated items", "Question drill-down", "Export", "Learn from feedback",
     "Feedback drill (simulated)"])

with overview:
    by = st.radio("Group by", ["mode", "model"], horizontal=True, key="fb_group_by",
                  format_func={"mode": "mode", "model": "model / adapter"}.get)
    key = (lambda r: r.mode) if by == "mode" else stats.model_label
    st.subheader("Reward over time")
    rot = stats.reward_over_time(records, by=by)
    if rot.empty:
        st.caption("No ratings yet.")
    else:
        fig = px.line(rot, x="time", y="cumulative_mean", color="group", markers=True,
                      hover_data=["ratings", "mean_reward"], range_y=[-1.05, 1.05],
                      labels={"cumulative_mean": "running mean reward (+1 up, −1 down)"})
        st.plotly_chart(fig, width="stretch")
    st.subheader("Thumbs-up rate (95 % Wilson interval)")
    if rates := stats.up_rates(rated, key=key):
        fig = go.Figure(go.Bar(**presenter.up_rate_bars(rates)))
        st.plotly_chart(fig.update_yaxes(range=[0, 1], title="share of thumbs-up"),
                        width="stretch")
        st.caption("Wilson score interval (Wilson 1927), z = 1.96. Overlapping bars: the "
                   "difference may be noise; collect more ratings.")
    ranking_section(rated, prefs, key)
    st.subheader("Pairwise win rates")
    if wins := stats.win_rates(prefs, {r.id: r for r in records}, key=key):
        st.dataframe(wins, hide_index=True, width="stretch")
    else:
        st.caption("No A/B preferences between different groups yet.")

with table:
    df = stats.records_frame(records)
    f1, f2, f3, f4 = st.columns([2, 1, 2, 3])
    modes = f1.multiselect("Mode", sorted(df["mode"].unique()), key="fb_f_modes")
    rating = f2.selectbox("Rating", ["all", "up", "down", "unrated"], key="fb_f_rating")
    pages = f3.multiselect("Page", sorted(df["page"].unique()), key="fb_f_pages")
    search = f4.text_input("Search prompt, answer or comment (plain text)", key="fb_f_search")
    shown = stats.filter_records(df, modes=modes, rating=rating, pages=pages, search=search)
    st.caption(f"{len(shown)} of {len(df)} answers")
    text = st.column_config.TextColumn  # rows taller than 4rem wrap their text
    columns = {"prompt": text(width="medium"), "output": text("answer", width="large"),
               "comment": text(width="medium")}
    st.dataframe(shown, hide_index=True, width="stretch", row_height=84,
                 column_order=presenter.TABLE_ORDER, column_config=columns)

with drill:
    if (prompts := presenter.prompt_counts(records)).empty:
        st.caption("Nothing to drill into yet.")
    else:
        question = st.selectbox("Question", list(prompts.index), key="fb_drill_prompt",
                                format_func=lambda p: f"({prompts[p]}) {p[:120]}")
        st.text(question)  # plain text: user input is never rendered as markdown or HTML
        answers = [r for r in records if r.prompt == question]
        for r in answers:
            with st.container(border=True):
                st.caption(presenter.answer_caption(r, stats.model_label(r)))
                st.text(r.output)
                if r.comment:
                    st.text(f"Comment: {r.comment}")
        if linked := presenter.linked_preferences(prefs, {r.id for r in answers}):
            st.write("Preferences between these answers")
            st.dataframe(linked, hide_index=True, width="stretch")

with downloads:
    st.write("Raw records (every field) and training files that `datasets.load_dataset` "
             "and TRL read. Same as `python -m core feedback export --format … --out FILE`.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    for col, fmt in zip(st.columns(4), export.FORMATS, strict=True):
        col.download_button(
            f"{fmt.upper()} ({export.count_rows(fmt, records, prefs)} rows)",
            data=b"" if locked("export") else export.render(fmt, records, prefs, actor=actor()),
            disabled=locked("export"), key=f"fb_dl_{fmt}", **export.download_file(fmt, stamp))

with learn:
    learn_section(store, store.list_outputs(rated_only=True), store.list_preferences(), stamp)

with drill_tab:
    drill_section(load_settings(), store)
