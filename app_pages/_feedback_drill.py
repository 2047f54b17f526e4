"""The Feedback dashboard's drill tab: simulated thumbs on the model's own answers, a new
adapter trained on them, and held-out questions answered before and after.

The work is :func:`core.finetune.preference_loop.run_drill`, run as a background job (``fb-drill``)
through the shared job panel; its result stays in the session. Wording:
:mod:`core.presenters.feedback`. The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from functools import partial

import plotly.express as px
import streamlit as st

from app_pages._job_panel import job_panel, job_running, locked, start_job
from core.errors import UserError
from core.finetune.preference_loop import DRILL_MODES, RULE, DrillConfig
from core.presenters import feedback as presenter


def drill_section(settings, store) -> None:
    st.write(presenter.drill_intro(RULE))
    c1, c2, c3 = st.columns(3)
    questions = c1.number_input("Training questions", 2, 10_000, 54, key="fb_drill_q")
    minutes = c2.number_input("Time budget (minutes)", 1, 240, 15, key="fb_drill_min",
                              help="Training stops early to leave room for the after run.")
    mode = c3.selectbox("Answer mode", DRILL_MODES, key="fb_drill_mode")
    try:
        config = DrillConfig(questions=int(questions), minutes=float(minutes), mode=mode)
    except UserError as exc:
        st.error(str(exc))
        return
    if st.button("Run the feedback drill", key="fb_drill_go",
                 disabled=job_running("fb-drill") or locked("train"),
                 help="Runs in the background; you can leave this page."):
        from core.st_cache import get_generator, get_rag_store

        start_job("fb-drill", settings=settings, config=config, generator=get_generator(),
                  store=get_rag_store() if mode == "rag" else None, feedback=store)
    job_panel("fb-drill", title="Feedback drill", show_loss=False,
              on_done=partial(presenter.keep_result, st.session_state, "fb_drill_result",
                              convert=lambda result: result.to_cli()),
              cancel_note="Stops at the next batch; no adapter is saved.")
    out = st.session_state.get("fb_drill_result")
    if out is not None:
        show_drill(out)


def show_drill(out: dict) -> None:
    level, message = presenter.drill_message(out)
    getattr(st, level)(message)
    fig = px.bar(presenter.drill_bars(out), x="version", y=out["metric"], range_y=[0, 1])
    st.plotly_chart(fig, width="stretch", key="fb_drill_chart")
    st.caption(presenter.DRILL_INTERVAL_NOTE)
    with st.expander("Drill details"):
        st.json(out)
