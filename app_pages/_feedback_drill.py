"""The Feedback dashboard's drill tab: simulated thumbs on the model's own answers, a new
adapter trained on them, and held-out questions answered before and after.

The work is :func:`core.finetune.drill.run_drill`, run as a background job (``fb-drill``) through
the shared job panel; its result stays in the session. The leading underscore keeps this
module out of the page list.
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from app_pages._job_panel import job_panel, job_running, locked, start_job
from core.errors import UserError
from core.finetune.drill import DRILL_MODES, RULE, DrillConfig


def drill_section(settings, store) -> None:
    st.write("**What this simulates.** There are no real users here: "
             f"{RULE}. The drill answers training questions of the QA set several times "
             "(sampling), rates every answer by that rule, stores the ratings marked "
             "*simulated* (they stay out of the statistics and exports above unless "
             "*Include simulated ratings* is ticked), trains a new LoRA adapter on them (DPO on "
             "👍/👎 pairs of answers to the same question) and answers held-out test questions "
             "before and after. Same as `python -m core feedback drill`.")
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
              on_done=lambda snap: snap["error"] is None and st.session_state.update(
                  fb_drill_result=snap["result"].to_cli()),
              cancel_note="Stops at the next batch; no adapter is saved.")
    if (out := st.session_state.get("fb_drill_result")) is not None:
        show_drill(out)


def show_drill(out: dict) -> None:
    low, high = out["delta_ci95"]
    verdict = ("helped" if low > 0 else "made it worse" if high < 0
               else "no clear change (the interval includes 0)")
    message = (f"{out['metric']} on {out['heldout_questions']} held-out questions: "
               f"{out['before']:.3f} before, {out['after']:.3f} after; delta "
               f"{out['delta']:+.3f} (95 % CI {low:+.3f} to {high:+.3f}): {verdict}. "
               f"Adapter {out['adapter']}, {out['seconds']:.0f} s.")
    (st.success if low > 0 else st.info)(message)
    bars = [{"version": "before (base model)", out["metric"]: out["before"]},
            {"version": f"after ({out['adapter']})", out["metric"]: out["after"]}]
    st.plotly_chart(px.bar(bars, x="version", y=out["metric"], range_y=[0, 1]),
                    width="stretch", key="fb_drill_chart")
    st.caption("Interval: paired bootstrap over questions (Efron & Tibshirani 1993), "
               "10,000 resamples.")
    with st.expander("Drill details"):
        st.json(out)
