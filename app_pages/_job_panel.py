"""One panel for every background job: progress with elapsed time and ETA, live loss, Cancel,
and the result kept across navigation.

Usage from a page (the kind is declared in ``core.jobs.KINDS`` with its body, and whether it
is one per server or one per session; the session id comes from ``st.session_state``):

    from app_pages._job_panel import job_panel, job_running, start_job

    if st.button("Start training", disabled=job_running("finetune")):
        start_job("finetune", **params)      # the body's parameters; reruns the page to poll
    job_panel("finetune", title="Training run",
              on_done=lambda snap: st.session_state.update(ft_result=snap["result"]),
              cancel_note="Stops after the current micro-batch.")

While the job runs, a fragment polls it every second. The first time a page run sees the job
finished, ``on_done(snapshot)`` is called once (store the result where the page renders it)
and the whole page reruns, so everything that depends on the job refreshes; the poll keeps
asking for that rerun until the page has been drawn with the job finished. Errors are shown
with ``st.error``. Every start is checked against the session's role and the demo quotas
(:mod:`app_pages._access`, re-exported here as ``actor`` and ``locked`` for pages that start jobs).
The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages._access import actor, locked
from core import access, jobs
from core.jobs import Job, format_seconds

__all__ = ["actor", "format_seconds", "job_panel", "job_running", "locked", "loss_figure",
           "start_job"]


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


def _session() -> str:
    return str(st.session_state.get("session_id", "anonymous"))


def current_job(kind: str) -> Job | None:
    """The running or last finished ``kind`` job this page may see (per its declared scope)."""
    return jobs.REGISTRY.get(kind, session=_session())


def job_running(kind: str) -> bool:
    return jobs.REGISTRY.running(kind, session=_session())


def start_job(kind: str, **params) -> Job | None:
    """Start the kind's body with ``params`` (or join/refuse per :data:`core.jobs.KINDS`), then
    rerun to poll it.

    A refusal by role or quota (:mod:`core.access`) is shown with ``st.error``; returns None.
    """
    try:
        job = jobs.REGISTRY.start(kind, session=_session(), actor=actor(), **params)
    except (access.PermissionDenied, access.QuotaExceeded) as exc:
        st.error(str(exc))
        return None
    st.rerun()
    return job


def forget_job(kind: str) -> None:
    jobs.REGISTRY.clear(kind, session=_session())


def job_panel(kind: str, *, title: str = "", label: str = "", error_prefix: str = "",
              on_done: Callable[[dict], None] | None = None,
              cancel_note: str = "Stops at the next check; the page says what was kept.",
              show_loss: bool = True, place: str = "") -> None:
    """Render the current ``kind`` job (nothing when there is none); see the module docstring.

    ``label`` prefixes the progress text ("Building: step 3/10 · 4 s elapsed"); ``error_prefix``
    the error ("Build failed: disk full"). ``place`` tells apart two pages that show the same
    kind: each calls its own ``on_done`` once.
    """
    job = current_job(kind)
    seen_key = f"_job_seen_{kind}{'-' + place if place else ''}"
    # This page run drew the page while the job ran, so the fragment polls; once the job has
    # finished, every poll asks for a whole-page rerun until one happens. One request was not
    # enough: under load the page sometimes kept its running-state drawing and never showed
    # the result.
    polling = job is not None and job.running

    @st.fragment(run_every=1.0 if polling else None)
    def _panel() -> None:
        current = current_job(kind)
        if current is None:  # none, or its on_done forgot it
            if polling:
                st.rerun()
            return
        snap = current.snapshot()
        if snap["running"]:
            if title:
                st.subheader(title)
            st.progress(snap["fraction"], (f"{label}: " if label else "") + progress_text(snap))
            if show_loss and snap["steps"]:
                st.plotly_chart(loss_figure(snap["steps"], "Live loss"),
                                key=f"{kind}{place}-loss-{snap['id']}-{len(snap['steps'])}")
            if st.button("Cancel", disabled=snap["cancelling"],
                         key=f"{kind}{place}-cancel-{snap['id']}"):
                current.cancel.set()
                st.rerun(scope="fragment")
            if snap["cancelling"]:
                st.caption(f"Cancelling… {cancel_note}")
            return
        if st.session_state.get(seen_key) != snap["id"]:
            if on_done is not None:  # before marking it seen: an interrupted run calls it again
                on_done(snap)
            st.session_state[seen_key] = snap["id"]
            st.rerun()
        if polling:
            st.rerun()
        if snap["error"]:
            st.error(error_prefix + snap["error"])

    _panel()
