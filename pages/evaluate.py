"""Evaluate: score answer modes over a QA file, per question and per mode, and compare runs.

Widgets in, core calls (core.evaluation.runner, .view), charts out. The evaluation runs in a
background job (core.jobs) shown by the shared job panel (progress, ETA, Cancel); the
finished run is saved under data_dir/eval_runs and kept in st.session_state, and so are the
settings (copied to non-widget keys, which survive switching pages).
"""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from core import st_cache
from core.errors import UserError
from core.evaluation import runner, view
from core.evaluation.qa import DEFAULT_QA_FILE, load_qa_file, parse_qa_text, select_split
from core.evaluation.view import adapter_kb_warning
from core.finetune.adapters import list_adapters, read_metadata
from core.finetune.modes import ALL_MODES, FINETUNED_MODES, make_context
from core.rag.highlight import escape_markdown
from pages._job_panel import job_panel

KEEP = ("ev-source", "ev-kb", "ev-adapter", "ev-limit", "ev-modes", "ev-top-k", "ev-search")


def keep(key: str, default, valid=lambda v: True) -> str:
    """A widget key whose value survives navigation (restored from the ``kept-`` copy that
    the page writes after its widgets) and is reset to ``default`` when no longer valid."""
    value = st.session_state.get(key, st.session_state.get(f"kept-{key}", default))
    st.session_state[key] = value if valid(value) else default
    return key


st.title("Evaluate")
st.caption(view.METRICS_NOTE)
settings = st_cache.settings()
slot = st_cache.job_slot("evaluate")
job = slot.job
running = job is not None and job.running

try:
    kbs = st_cache.get_rag_store().names()
except UserError as exc:
    st.error(str(exc))
    st.stop()
adapter_names = [a["name"] for a in list_adapters(settings)]

SOURCES = ["Default QA set", "Upload a JSONL file"]
source = st.radio("Questions", SOURCES, horizontal=True, key=keep("ev-source", SOURCES[0]))
items = []
try:
    if source == "Default QA set":
        items = select_split(load_qa_file(DEFAULT_QA_FILE), "test")
        st.caption(f"{len(items)} questions from the **test** split (never used for training).")
    else:
        upload = st.file_uploader("QA file (JSONL: question, answer, aliases, choices, source, "
                                  "split)", type=["jsonl", "json"])
        if upload is not None:
            if upload.size > settings.max_upload_mb * 1_000_000:
                raise UserError(f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is "
                                f"{settings.max_upload_mb} MB")
            try:
                text = upload.getvalue().decode("utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{upload.name} is not UTF-8 text") from None
            split = st.selectbox("Split", ["test", "all"], help="rows without a split count "
                                                                "as test")
            items = select_split(parse_qa_text(text, upload.name),
                                 None if split == "all" else split)
            st.caption(f"{len(items)} questions loaded from {upload.name}.")
except UserError as exc:
    st.error(str(exc))

c1, c2, c3 = st.columns([2, 2, 1])
kb = c1.selectbox("Knowledge base", kbs, key=keep("ev-kb", "default" if "default" in kbs else
                                                 (kbs or [None])[0], kbs.__contains__))
adapter = c2.selectbox("Adapter (fine-tuned modes)", adapter_names, placeholder="none: train "
                       "one on Fine-tune", key=keep("ev-adapter", (adapter_names or [None])[0],
                                                    (*adapter_names, None).__contains__))
n_max = len(items)
if items:
    limit = c3.number_input("Questions", 1, n_max, key=keep("ev-limit", min(10, n_max),
                                                            lambda v: 1 <= v <= n_max),
                            help="CPU: each question takes seconds per mode")
else:  # no file yet: leave the kept count alone (a 1 here would stick once a file loads)
    limit = c3.number_input("Questions", 0, 0, disabled=True)
if warning := adapter_kb_warning(read_metadata(settings, adapter) if adapter else {},
                                 adapter or "", kb or ""):
    st.warning(escape_markdown(warning))
default_modes = [m for m in ALL_MODES if adapter or m not in FINETUNED_MODES]
modes = st.multiselect("Modes", ALL_MODES, key=keep("ev-modes", default_modes,
                                                    lambda v: set(v) <= set(ALL_MODES)))
k1, k2 = st.columns(2)
top_k = k1.slider("Top-k chunks", 1, 10, key=keep("ev-top-k", 3))
search = k2.selectbox("Search", ["hybrid", "vector", "fts"], key=keep("ev-search", "hybrid"))
st.session_state.update({f"kept-{k}": st.session_state[k] for k in KEEP if k in st.session_state})

if st.button("Run evaluation", type="primary", disabled=running or not items):
    try:
        subset = items[: int(limit)]
        ctx = make_context(settings, kb, adapter=adapter or "", modes=modes, top_k=top_k,
                           search=search, generator=st_cache.get_generator(),
                           embedder=st_cache.get_embedder())
        embedder = st_cache.get_embedder()
        meta = {"kb": kb, "adapter": adapter, "qa_file": source, "top_k": top_k,
                "search": search, "generator": settings.generator_model,
                "embedder": settings.embedding_model}

        def work(j, subset=subset, modes=tuple(modes), ctx=ctx, meta=meta):
            run = runner.evaluate(subset, modes, ctx, embedder, progress=j.progress,
                                  cancel=j.cancel, meta=meta)
            runner.save_run(settings, run)
            return run

        slot.start("evaluate", work)
        st.rerun()
    except UserError as exc:
        st.error(str(exc))


def _finished(snap: dict) -> None:
    if snap["result"]:
        st.session_state["eval_run"] = snap["result"]
        slot.clear()


job_panel(lambda: slot.job, key="evaluate", title="Evaluation", on_done=_finished,
          cancel_note="Stops after the current question; the answered ones are kept.",
          show_loss=False)

run = st.session_state.get("eval_run")
if run:
    st.subheader(f"Run {run['id']} · {run['n']} questions"
                 + (" (cancelled)" if run.get("cancelled") else ""))
    agg = view.aggregates_frame(run)
    st.dataframe(agg, hide_index=True)
    for mode, a in run["aggregates"].items():
        for metric, reason in (a.get("unavailable") or {}).items():
            st.caption(f"{mode} · {metric}: not computed ({reason})")
    st.plotly_chart(px.bar(view.chart_frame(agg), x="metric", y="score", color="mode",
                           barmode="group", range_y=[0, 1], title="Scores by mode (fractions)"),
                    key=f"bars-{run['id']}")
    f1, f2 = st.columns(2)
    which = f1.selectbox("Show", list(view.FILTERS))
    metric = f2.selectbox("Compared on", view.COMPARED_ON)
    pair = view.FILTERS[which]
    ids = runner.wins(run["rows"], metric, *pair) if pair else None
    if pair:
        st.caption(f"{len(ids)} question(s) where {pair[0]} scores higher than {pair[1]} on "
                   f"{metric}.")
    st.dataframe(view.rows_frame(run, ids), hide_index=True)
    d1, d2 = st.columns(2)
    d1.download_button("Download rows (CSV)", pd.DataFrame(run["rows"]).to_csv(index=False),
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
            table = pd.DataFrame(runner.compare_runs(loaded)).dropna()
            table = table[table["metric"].isin(view.CHART_METRICS)]
            table["run · mode"] = table["run"] + " · " + table["mode"]
            st.plotly_chart(px.bar(table, x="metric", y="value", color="run · mode",
                                   barmode="group", range_y=[0, 1], title="Saved runs"),
                            key="compare-runs")
            o1, o2 = st.columns(2)
            if o1.button("Open the first selected run"):
                st.session_state["eval_run"] = loaded[0]
                st.rerun()
            if o2.button("Delete the first selected run"):
                runner.delete_run(settings, chosen[0])
                st.rerun()
