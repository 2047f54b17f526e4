"""The Feedback dashboard's "Learn from feedback" tab: train a new LoRA adapter on the ratings
(KTO or DPO) as a background job, then compare it with its previous version (before/after).
The leading underscore keeps this module out of the page list."""

from __future__ import annotations

from functools import partial

import plotly.express as px
import streamlit as st

from app_pages._before_after import before_after
from app_pages._job_panel import job_panel, job_running, locked, start_job
from core.adapters import AdapterRegistry
from core.errors import UserError
from core.finetune.preference import LearnConfig, plan_training
from core.presenters import feedback as presenter
from core.settings import load_settings


def learn_section(store, rated, prefs, stamp: str) -> None:
    settings = load_settings()
    st.write(presenter.learn_intro(settings.data_dir / "adapters"))
    l1, l2, l3, l4 = st.columns([2, 2, 1, 1])
    name = l1.text_input("New adapter name", value=f"feedback-{stamp}", key="fb_learn_name")
    none = "(none: start from the base model)"
    names = [a["name"] for a in AdapterRegistry.of(settings).list()]
    base = l2.selectbox("Start from adapter", [none, *names], key="fb_learn_base")
    method = l3.selectbox("Method", ["auto", "kto", "dpo"], key="fb_learn_method")
    steps = l4.number_input("Steps", 1, 2000, 10, key="fb_learn_steps")
    refusal = None
    try:
        config = LearnConfig(adapter=name, method=method, max_steps=int(steps))
        st.info(presenter.plan_message(plan_training(rated, prefs, config)))
    except UserError as exc:
        refusal = str(exc)
        st.warning(refusal)
    if st.button("Learn from feedback", type="primary", key="fb_learn_go",
                 disabled=refusal is not None or job_running("fb-learn") or locked("train"),
                 help="Runs in the background; you can leave this page."):
        from core.st_cache import get_generator

        start_job("fb-learn", store=store, generator=get_generator(), settings=settings,
                  config=config, base_adapter=None if base == none else base)
    job_panel("fb-learn", title="Learning from feedback",
              on_done=partial(presenter.keep_result, st.session_state, "fb_learn_result"),
              cancel_note="Stops after the current step; no adapter is saved.")
    result = st.session_state.get("fb_learn_result")
    if result is not None:
        st.success(presenter.learn_message(result))
        if result.losses:
            losses = px.line(result.losses, x="step", y="loss", markers=True,
                             title="Training loss")
            st.plotly_chart(losses, width="stretch")
        with st.expander("Adapter metadata (feedback snapshot)"):
            st.json(result.metadata)
    before_after(settings, last=result.adapter if result is not None else None)
