"""One panel for every background job: progress with elapsed time and ETA, live loss, Cancel,
and the result kept across navigation.

Usage from a page (``get_job`` is re-called on every poll, so pass a getter, not a job):

    from pages._job_panel import job_panel

    job_panel(lambda: slot.job, key="finetune", title="Training run",
              on_done=lambda snap: st.session_state.update(ft_result=snap["result"]),
              cancel_note="Stops after the current micro-batch.")

While the job runs, a fragment polls it every second. The first time a page run sees the job
finished, ``on_done(snapshot)`` is called once (store the result where the page renders it)
and the whole page reruns, so everything that depends on the job refreshes. Errors are shown
with ``st.error``. The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.jobs import Job


def format_seconds(seconds: float) -> str:
    """Example: 59 -> '59 s', 61 -> '1 min 1 s', 3725 -> '1 h 2 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress_text(snap: dict) -> str:
    """'step 3/10 · loss 2.1 · 42 s elapsed · about 1 min 10 s left'."""
    text = f"{snap['message']} · {format_seconds(snap['elapsed'])} elapsed"
    if snap.get("eta") is not None:
        text += f" · about {format_seconds(snap['eta'])} left"
    return text


def loss_figure(steps: list[tuple[int, float]], title: str) -> go.Figure:
    """Step losses plus their running mean over the last five steps."""
    frame = pd.DataFrame(steps, columns=["step", "loss"])
    frame["smoothed"] = frame["loss"].rolling(5, min_periods=1).mean()
    fig = go.Figure()
    fig.add_scatter(x=frame["step"], y=frame["loss"], mode="lines+markers", name="step loss",
                    opacity=0.5)
    fig.add_scatter(x=frame["step"], y=frame["smoothed"], mode="lines", name="mean of last 5")
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="loss",
                      height=320, margin={"t": 40, "b": 30})
    return fig


def job_panel(get_job: Callable[[], Job | None], *, key: str, title: str = "",
              on_done: Callable[[dict], None] | None = None,
              cancel_note: str = "Stops at the next check; the page says what was kept.",
              show_loss: bool = True) -> None:
    """Render the job ``get_job()`` returns (nothing when None); see the module docstring."""
    job = get_job()
    seen_key = f"_job_seen_{key}"

    @st.fragment(run_every=1.0 if job is not None and job.running else None)
    def _panel() -> None:
        current = get_job()
        if current is None:
            return
        snap = current.snapshot()
        if snap["running"]:
            if title:
                st.subheader(title)
            st.progress(snap["fraction"], progress_text(snap))
            if show_loss and snap["steps"]:
                st.plotly_chart(loss_figure(snap["steps"], "Live loss"),
                                key=f"{key}-loss-{snap['id']}-{len(snap['steps'])}")
            if st.button("Cancel", disabled=snap["cancelling"], key=f"{key}-cancel-{snap['id']}"):
                current.cancel.set()
                st.rerun(scope="fragment")
            if snap["cancelling"]:
                st.caption(f"Cancelling… {cancel_note}")
            return
        if st.session_state.get(seen_key) != snap["id"]:
            st.session_state[seen_key] = snap["id"]
            if on_done is not None:
                on_done(snap)
            st.rerun()
        if snap["error"]:
            st.error(snap["error"])

    _panel()
