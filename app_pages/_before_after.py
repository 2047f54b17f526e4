"""The Feedback dashboard's before/after panel: a feedback-trained adapter against its
previous version on the default QA set's test questions.

It runs as a background job (``fb-compare``, the shared job panel: progress, ETA, result kept
across navigation); the verdict is also stored in the adapter's metadata, so the adapter list
shows whether it helped. Result shaping is :mod:`core.presenters.feedback`; the comparison itself is
``core.evaluation.versions``. The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from functools import partial

import plotly.express as px
import streamlit as st

from app_pages._job_panel import job_panel, job_running, locked, start_job
from core.adapters import AdapterRegistry
from core.errors import UserError
from core.presenters import feedback as presenter


def before_after(settings, last: str | None = None) -> None:
    """Pick an adapter trained from feedback (``last`` preselected), compare, show the result."""
    st.subheader("Before / after")
    st.write(presenter.BEFORE_AFTER_INTRO)
    names = presenter.feedback_adapters(AdapterRegistry.of(settings).list())
    if not names:
        st.caption("No adapter trained from feedback yet: learn one above.")
    else:
        b1, b2, b3 = st.columns([2, 1, 2])
        adapter = b1.selectbox("Adapter trained from feedback", names,
                               index=names.index(last) if last in names else 0,
                               key="fb_cmp_adapter")
        limit = b2.number_input("Questions", 1, 10_000, settings.feedback_compare_limit,
                                key="fb_cmp_limit",
                                help="First N test-split questions (NLPLAB_FEEDBACK_COMPARE_LIMIT)")
        modes = b3.multiselect("Modes", ["finetuned", "finetuned+rag"], default=["finetuned"],
                               key="fb_cmp_modes", help="finetuned+rag also retrieves from the "
                               "default knowledge base (its 'before' is RAG without adapter)")
        if st.button("Compare before / after", key="fb_cmp_go",
                     disabled=not modes or locked("evaluate") or job_running("fb-compare"),
                     help="Runs in the background; you can leave this page."):
            from core.evaluation import versions
            from core.st_cache import get_embedder, get_generator, get_rag_store

            try:
                items = versions.default_items(int(limit))
            except UserError as exc:
                st.error(str(exc))
            else:
                start_job("fb-compare", settings=settings, adapter=adapter, items=items,
                          modes=list(modes), generator=get_generator(),
                          embedder=get_embedder(), store=get_rag_store())
    job_panel("fb-compare", title="Before / after", show_loss=False,
              on_done=partial(presenter.keep_result, st.session_state, "fb_cmp_result"))
    out = st.session_state.get("fb_cmp_result")
    if out is not None:
        show_result(out)


def show_result(out: dict) -> None:
    """Bars and a delta table per mode, then the answers question by question."""
    st.success(presenter.compare_message(out))
    for mode in out["modes"]:
        if bars := presenter.compare_bars(out, mode):
            fig = px.bar(bars, x="metric", y="value", color="version", barmode="group",
                         title=f"{mode}: before vs after")
            st.plotly_chart(fig.update_yaxes(range=[0, 1], title="score (fraction)"),
                            width="stretch", key=f"fb_cmp_chart_{mode}")
        st.dataframe(presenter.compare_deltas(out, mode), hide_index=True, width="stretch",
                     key=f"fb_cmp_delta_{mode}")
    st.write("Answers, question by question")
    st.dataframe(presenter.compare_questions(out), hide_index=True, width="stretch",
                 key="fb_cmp_questions")
