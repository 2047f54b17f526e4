"""Evaluate: score answer modes over a QA file, per question and per mode, and compare runs.

Widgets in, core calls (core.evaluation.runner; wording from core.presenters.evaluate), charts out.
The evaluation runs in a background job (one per server, core.jobs) shown by the shared job panel
(progress, ETA, Cancel); the finished run is saved under data_dir/eval_runs and kept in
st.session_state, and so are the settings (copied to non-widget keys, which survive switching
pages).
"""

import json
from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages._job_panel import actor, forget_job, job_panel, job_running, locked, start_job
from app_pages._ui import kb_names
from core import st_cache
from core.adapters import AdapterRegistry
from core.answering import ALL_MODES, MODES, READERS, make_context
from core.errors import UserError
from core.evaluation import runner
from core.presenters import evaluate as presenter
from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split
from core.rag.highlight import escape_markdown

KEEP = ("ev-source", "ev-kb", "ev-adapter", "ev-limit", "ev-modes", "ev-top-k", "ev-search",
        "ev-split", "ev-fallback", "ev-reader")


keep = partial(presenter.keep, st.session_state)  # values survive switching pages

st.title("Evaluate")
st.caption(presenter.METRICS_NOTE)
with st.expander("What each metric means"):
    definitions = pd.DataFrame(presenter.METRIC_DEFINITIONS.items(),
                               columns=["metric", "definition"])
    st.dataframe(definitions, hide_index=True)
settings = st_cache.settings()
running = job_running("evaluate") or locked("evaluate")  # or a demo visitor

kbs = kb_names(required=False, hint=False)
registry = AdapterRegistry.of(settings)
adapter_names = registry.names()
SOURCES = ["Default QA set", "Upload a JSONL file"]
source = st.radio("Questions", SOURCES, horizontal=True, key=keep("ev-source", SOURCES[0]))
items = []
try:
    if source == "Default QA set":
        split = st.radio("Split", ["test", "dev"], horizontal=True, key=keep("ev-split", "test"),
                         help="Choose settings on dev; report test once. Neither is trained on.")
        items = select_split(load_qa_file(DEFAULT_QA_FILE), split)
        st.caption(f"{len(items)} questions from the **{split}** split (never used for "
                   "training).")
    else:
        upload = st.file_uploader("QA file (JSONL: question, answer, aliases, choices, source, "
                                  "split)", type=["jsonl", "json"], disabled=locked("upload"))
        if upload is not None:
            split = st.selectbox("Split", ["test", "all"], help="rows without a split count "
                                                                "as test")
            items = presenter.upload_items(upload.getvalue(), upload.name,
                                           settings.max_upload_mb, split, actor=actor())
            st.caption(f"{len(items)} questions loaded from {upload.name}.")
except UserError as exc:
    st.error(str(exc))

c1, c2, c3 = st.columns([2, 2, 1])
kb_key = keep("ev-kb", presenter.preferred(kbs, "default"), kbs.__contains__)
kb = c1.selectbox("Knowledge base", kbs, key=kb_key)
adapter_key = keep("ev-adapter", presenter.preferred(adapter_names),
                   (*adapter_names, None).__contains__)
adapter = c2.selectbox("Adapter (fine-tuned modes)", adapter_names, key=adapter_key,
                       placeholder="none: train one on Fine-tune")
n_max = len(items)  # 0 until a file is uploaded: a disabled 0 then leaves the kept count be
limit_key = None
if items:
    limit_key = keep("ev-limit", min(10, n_max), lambda v: 1 <= v <= n_max)
limit = c3.number_input("Questions", min(1, n_max), n_max, disabled=not items, key=limit_key,
                        help="CPU: each question takes seconds per mode")
try:
    metadata = registry.metadata(adapter) if adapter else {}
    if warning := presenter.adapter_kb_warning(metadata, adapter or "", kb or ""):
        st.warning(escape_markdown(warning))
except UserError as exc:  # unreadable metadata: say so rather than drop the warning
    st.warning(escape_markdown(str(exc)))
default_modes = [m for m in ALL_MODES if adapter or not MODES[m].needs_adapter]
modes_key = keep("ev-modes", default_modes, lambda v: set(v) <= set(ALL_MODES))
modes = st.multiselect("Modes", ALL_MODES, key=modes_key)
k1, k2, k3, k4 = st.columns(4)
top_k = k1.slider("Top-k chunks", 1, 10, key=keep("ev-top-k", 3))
search = k2.selectbox("Search", ["hybrid", "vector", "fts"], key=keep("ev-search", "hybrid"))
fallback = k3.checkbox("Extractive fallback", key=keep("ev-fallback", False),
                       help="Show the best evidence passage instead of an ungrounded model "
                            "answer. The mode is still scored on the model's own text; what was "
                            "shown is scored as its own row (e.g. rag+fallback).")
reader = k4.selectbox("Reader", READERS, key=keep("ev-reader", "free"),
                      help="free: the model writes its answer; copy: the answer is the span of "
                           "the evidence the model itself finds most likely.")
presenter.remember(st.session_state, KEEP)

if st.button("Run evaluation", type="primary", disabled=running or not items):
    try:
        ctx = make_context(settings, kb, adapter=adapter or "", modes=modes, top_k=top_k,
                           search=search, generator=st_cache.get_generator(),
                           embedder=st_cache.get_embedder(), store=st_cache.get_rag_store(),
                           extractive_fallback=fallback, reader=reader)
        meta = presenter.run_meta(settings, kb=kb, adapter=adapter, qa_file=source,
                                  top_k=top_k, search=search, extractive_fallback=fallback,
                                  reader=reader)
        start_job("evaluate", settings=settings, items=items[: int(limit)], modes=modes, ctx=ctx,
                  embedder=st_cache.get_embedder(), meta=meta)
    except UserError as exc:
        st.error(str(exc))


def _finished(snap: dict) -> None:
    if snap["result"]:
        st.session_state["eval_run"] = snap["result"]
        forget_job("evaluate")


job_panel("evaluate", title="Evaluation", on_done=_finished,
          cancel_note="Stops after the current question; the answered ones are kept.",
          show_loss=False)

run = st.session_state.get("eval_run")
if run:
    st.subheader(presenter.run_title(run))
    agg = presenter.aggregates_frame(run)
    st.dataframe(agg, hide_index=True)
    for note in presenter.unavailable_notes(run):
        st.caption(note)
    for line in presenter.provenance_lines(run):
        st.caption(escape_markdown(line))
    scores = px.bar(presenter.chart_frame(agg), x="metric", y="score", color="mode",
                    barmode="group", range_y=[0, 1], title="Scores by mode (fractions)")
    st.plotly_chart(scores, key=f"bars-{run['id']}")
    st.markdown("**Paired verdicts** (same questions, 95 % paired bootstrap interval)")
    verdict_metric = st.selectbox("Verdicts on", presenter.COMPARED_ON, key="ev-verdict-metric")
    st.dataframe(presenter.comparisons_frame(run, verdict_metric), hide_index=True)
    new_only = presenter.new_only_frame(run)
    if new_only is not None:
        st.markdown("**New to the model**: the questions the base model alone did not answer")
        st.dataframe(new_only, hide_index=True)
    else:
        st.caption("Add the base mode to score the questions new to the model apart.")
    f1, f2 = st.columns(2)
    which = f1.selectbox("Show", list(presenter.FILTERS))
    metric = f2.selectbox("Compared on", presenter.COMPARED_ON)
    rows, caption = presenter.shown_rows(run, which, metric)
    if caption:
        st.caption(caption)
    st.dataframe(rows, hide_index=True)
    d1, d2 = st.columns(2)
    d1.download_button("Download rows (CSV)", presenter.rows_csv(run),
                       file_name=f"eval-{run['id']}.csv", mime="text/csv")
    d2.download_button("Download run (JSON)", json.dumps(run, default=str),
                       file_name=f"eval-{run['id']}.json", mime="application/json")

st.divider()
st.subheader("Saved runs")
saved = runner.list_runs(settings)
if not saved:
    st.caption("No saved runs yet.")
else:
    st.dataframe(pd.DataFrame(saved), hide_index=True)
    chosen = st.multiselect("Compare runs", [r["id"] for r in saved],
                            default=[r["id"] for r in saved[:2]])
    if chosen:
        try:
            loaded = [runner.load_run(settings, rid) for rid in chosen]
        except UserError as exc:
            st.error(str(exc))
        else:
            runs_chart = px.bar(presenter.saved_runs_frame(loaded), x="metric", y="value",
                                color="run · mode", barmode="group", range_y=[0, 1],
                                title="Saved runs")
            st.plotly_chart(runs_chart, key="compare-runs")
            o1, o2 = st.columns(2)  # a click reruns the page after its callback
            o1.button("Open the first selected run", on_click=st.session_state.update,
                      kwargs={"eval_run": loaded[0]})
            o2.button("Delete the first selected run", on_click=runner.delete_run,
                      args=(settings, chosen[0]), kwargs={"actor": actor()},
                      disabled=locked("delete"))
