"""Evaluate: score answer modes over a QA file, per question and per mode, and compare runs.

Widgets in, core calls (core.evaluation.runner), charts out. The evaluation runs in a
background job (core.jobs) held by st.cache_resource, polled by a fragment; the
finished run is saved under data_dir/eval_runs and kept in st.session_state.
"""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from core import st_cache
from core.errors import UserError
from core.evaluation import runner
from core.evaluation.qa import DEFAULT_QA_FILE, load_qa_file, parse_qa_text, select_split
from core.finetune.adapters import list_adapters
from core.finetune.modes import ALL_MODES, FINETUNED_MODES, make_context

CHART_METRICS = ["exact_match", "f1", "mc_accuracy", "hit_rate", "mrr", "grounding_overlap",
                 "grounding_cosine", "relevance"]
FILTERS = {
    "All questions": None,
    "RAG beats fine-tuned": ("rag", "finetuned"),
    "Fine-tuned beats RAG": ("finetuned", "rag"),
    "RAG beats base": ("rag", "base"),
    "Fine-tuned beats base": ("finetuned", "base"),
    "Fine-tuned + RAG beats RAG": ("finetuned+rag", "rag"),
}

st.title("Evaluate")
st.caption("Exact match and token F1 (SQuAD normalisation, answer or any alias), multiple-"
           "choice accuracy by log-likelihood, retrieval hit rate@k and MRR of the source "
           "document, and two local proxies: grounding (answer tokens found in the retrieved "
           "context; embedding cosine to the best chunk) and relevance (embedding cosine "
           "question-answer). The proxies are computed with the embedder, not an LLM judge.")
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

source = st.radio("Questions", ["Default QA set", "Upload a JSONL file"], horizontal=True)
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
kb = c1.selectbox("Knowledge base", kbs, index=kbs.index("default") if "default" in kbs else 0)
adapter = c2.selectbox("Adapter (fine-tuned modes)", adapter_names, index=0 if adapter_names
                       else None, placeholder="none: train one on Fine-tune")
limit = c3.number_input("Questions", 1, max(1, len(items)), min(10, max(1, len(items))),
                        help="CPU: each question takes seconds per mode")
default_modes = [m for m in ALL_MODES if adapter or m not in FINETUNED_MODES]
modes = st.multiselect("Modes", ALL_MODES, default=default_modes)
k1, k2 = st.columns(2)
top_k = k1.slider("Top-k chunks", 1, 10, 3)
search = k2.selectbox("Search", ["hybrid", "vector", "fts"])

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


@st.fragment(run_every="1s")
def job_panel() -> None:
    current = slot.job
    if current is None:
        return
    snap = current.snapshot()
    if snap["running"]:
        st.progress(snap["fraction"], snap["message"])
        if st.button("Cancel", disabled=snap["cancelling"], key=f"cancel-{snap['id']}"):
            current.cancel.set()
        return
    if snap["error"]:
        st.error(snap["error"])
    elif snap["result"] and st.session_state.get("eval_run_id") != snap["result"]["id"]:
        st.session_state["eval_run"] = snap["result"]
        st.session_state["eval_run_id"] = snap["result"]["id"]
        slot.clear()
        st.rerun()


job_panel()


def aggregates_frame(run: dict) -> pd.DataFrame:
    return pd.DataFrame([{"mode": m, **{k: v for k, v in agg.items() if k != "unavailable"}}
                         for m, agg in run["aggregates"].items()])


run = st.session_state.get("eval_run")
if run:
    st.subheader(f"Run {run['id']} · {run['n']} questions"
                 + (" (cancelled)" if run.get("cancelled") else ""))
    agg = aggregates_frame(run)
    st.dataframe(agg, hide_index=True)
    for mode, a in run["aggregates"].items():
        for metric, reason in (a.get("unavailable") or {}).items():
            st.caption(f"{mode} · {metric}: not computed ({reason})")
    long = agg.melt(id_vars="mode", value_vars=[m for m in CHART_METRICS if m in agg],
                    var_name="metric", value_name="score").dropna()
    st.plotly_chart(px.bar(long, x="metric", y="score", color="mode", barmode="group",
                           range_y=[0, 1], title="Scores by mode (fractions)"),
                    key=f"bars-{run['id']}")
    rows = pd.DataFrame(run["rows"])
    f1, f2 = st.columns(2)
    which = f1.selectbox("Show", list(FILTERS))
    metric = f2.selectbox("Compared on", ["f1", "mc_accuracy", "exact_match"])
    pair = FILTERS[which]
    if pair:
        ids = runner.wins(run["rows"], metric, *pair)
        rows = rows[rows["id"].isin(ids)]
        st.caption(f"{len(ids)} question(s) where {pair[0]} scores higher than {pair[1]} on "
                   f"{metric}.")
    cols = ["id", "mode", "question", "gold", "prediction", "mc_choice", "exact_match", "f1",
            "mc_correct", "hit", "reciprocal_rank", "grounding_overlap", "relevance", "seconds"]
    st.dataframe(rows[[c for c in cols if c in rows]], hide_index=True)
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
            table = table[table["metric"].isin(CHART_METRICS)]
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
