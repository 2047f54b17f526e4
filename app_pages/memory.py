"""GPU memory: estimate (and measure) what a model needs for inference and fine-tuning."""

import json

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages._access import actor, locked
from core import st_cache
from core.errors import UserError
from core.memory import config_input as ci
from core.memory.catalog import catalog_ids
from core.memory.estimate import COMPONENTS, DTYPES, GIB, MODES, OPTIMIZERS, EstimateConfig
from core.memory.estimate import estimate as run_estimate
from core.memory.gpus import GPUS, fits_on, gpu_by_name, largest_fitting
from core.memory.params import count_params
from core.presenters import memory as presenter

st.title("GPU memory")
st.caption("Will this model fit on my GPU, and what if I fine-tune it? Every number below comes "
           "from the model's config.json and a cited formula; local models can be measured.")
settings = st_cache.settings()
ss = st.session_state
ss.setdefault("mem_measure", None)

# --- model -------------------------------------------------------------------------------
source = st.radio("Model from", ["Catalog", "Upload config.json", "Hub id", "App's models"],
                  horizontal=True, key="mem_source")
desc = None
try:
    if source == "Catalog":
        ids = catalog_ids()
        name = st.selectbox("Model", ids, index=ids.index("mistralai/Mistral-7B-v0.1"),
                            key="mem_catalog")
        desc = ci.describe(name)
    elif source == "Upload config.json":
        up = st.file_uploader(f"config.json (max {settings.max_upload_mb} MB)", type=["json"],
                              key="mem_upload", disabled=locked("upload"))
        if up is not None:
            desc = ci.from_upload(up.getvalue(), up.name, settings.max_upload_mb, actor=actor())
    elif source == "Hub id":
        hub_id = st.text_input("Hub id (fetches config.json only; needs internet)",
                               key="mem_hub", placeholder="owner/name")
        if hub_id.strip():
            desc = ci.describe(hub_id, settings.models_dir)
    else:
        labels = presenter.app_model_labels(settings)
        pick = st.selectbox("Model", list(labels), key="mem_app_model")
        desc = ci.describe_app_model(labels[pick], settings)
except UserError as exc:
    st.error(str(exc))
if desc is None:
    st.info("Pick or upload a model to see its memory.")
    st.stop()

# --- settings ----------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
dtype = c1.selectbox("Precision", DTYPES, index=DTYPES.index("fp16"), key="mem_dtype")
mode = c2.selectbox("Mode", MODES, key="mem_mode",
                    help="inference; full fine-tuning; LoRA; QLoRA (4-bit base + LoRA)")
batch = c3.number_input("Batch size", 1, 1_000_000, 1, key="mem_batch")
seq = c4.number_input("Sequence length", 1, 10_000_000, 2048, step=256, key="mem_seq")
c1, c2, c3, c4, c5 = st.columns(5)
optimizer = c1.selectbox("Optimizer", OPTIMIZERS, key="mem_opt")
ckpt = c2.checkbox("Gradient checkpointing", key="mem_ckpt")
lora_r = c3.number_input("LoRA rank r", 1, 4096, 8, key="mem_r")
lora_alpha = c4.number_input("LoRA alpha", 1, 100_000, 16, key="mem_alpha",
                             help="scales the update; does not change memory")
targets = c5.text_input("LoRA targets", "q,v", key="mem_targets",
                        help="q,k,v,o,gate,up,down or module names")
try:
    ec = EstimateConfig(dtype=dtype, mode=mode, batch=int(batch), seq=int(seq),
                        optimizer=optimizer, grad_checkpointing=ckpt, lora_r=int(lora_r),
                        lora_alpha=int(lora_alpha), lora_targets=presenter.parse_targets(targets))
    pc = count_params(desc.config)
    est = run_estimate(desc.config, ec, pc)
except UserError as exc:
    st.error(str(exc))
    st.stop()

# --- result ------------------------------------------------------------------------------
st.subheader(f"{desc.name} · {mode} · {dtype}")
m1, m2, m3, m4 = st.columns(4)
headline = presenter.headline(pc, est.params_trainable)
for col, (label, value) in zip((m1, m2), headline, strict=True):
    col.metric(label, value)
m3.metric("Total", f"{est.total / GIB:.2f} GiB")
m4.metric("Fits on", f"{sum(r['fits'] for r in fits_on(est.total))}/{len(GPUS)} GPUs")
st.caption("The components are **summed**: weights, gradients, optimizer states, activations "
           "and KV cache are all resident at the peak of a step, so the total is their sum, "
           "not the maximum of separate stages.")
fig = go.Figure([go.Bar(name=c, x=["estimate"], y=[est.bytes[c] / GIB]) for c in COMPONENTS])
fig.update_layout(barmode="stack", height=340, yaxis_title="GiB", margin={"t": 10, "b": 10})
left, right = st.columns([2, 3])
left.plotly_chart(fig, key="mem_stack")
right.dataframe(pd.DataFrame(presenter.component_rows(est.bytes)), hide_index=True,
                key="mem_table")
st.markdown("**Formulas and sources**")
st.dataframe(pd.DataFrame(presenter.formula_rows(est.formulas)), hide_index=True,
             key="mem_formulas",
             row_height=100, height=100 * len(est.formulas) + 40,  # every row, no scrolling
             column_config={  # widths fit a laptop screen; long formulas and sources wrap
                 "component": st.column_config.TextColumn(width=105),
                 "GiB": st.column_config.NumberColumn(width=65, format="%.3f"),
                 "formula": st.column_config.TextColumn(width=320),
                 "source": st.column_config.TextColumn(width=420)})

st.subheader("Precision comparison")
comp = pd.DataFrame(presenter.precision_comparison(desc.config, ec, pc))
st.plotly_chart(px.bar(comp, x="precision", y="GiB", color="task", barmode="group",
                       hover_data=["mode"], height=320), key="mem_precisions")
st.caption("Training = full fine-tuning at fp32/fp16 (mixed precision), LoRA on an 8-bit base "
           "at int8, QLoRA at int4; other settings as above.")

st.subheader("Which GPUs fit")
g1, g2 = st.columns([3, 2])
g1.dataframe(pd.DataFrame(fits_on(est.total)), hide_index=True, key="mem_fits", column_config={
    "usable_gib": st.column_config.NumberColumn("usable GiB", help="memory.total as nvidia-smi "
                                                "reports it; the GB in a card's name is sold size"),
    "headroom_gib": st.column_config.NumberColumn("headroom GiB")})
gpu = g2.selectbox("GPU", [g.name for g in GPUS], index=1, key="mem_gpu")
vary = g2.radio("Largest", ["batch", "seq"], horizontal=True, key="mem_vary")
best = largest_fitting(desc.config, ec, gpu_by_name(gpu), vary, pc)
g2.metric(f"Largest {vary} on {gpu}", f"{best:,}" if best else "does not fit at 1")

# --- measure -----------------------------------------------------------------------------
st.subheader("Measure")
if not desc.location:
    st.info("Measuring needs a model the app can load: choose **App's models** "
            "(SmolLM2 generator, MiniLM encoder).")
elif st.button("Measure real memory", key="mem_measure_btn", disabled=locked("measure"),
               help="Runs the workload in a fresh process; a LoRA step can take a minute"):
    bar = st.progress(0.0, "starting")
    with st.spinner("Measuring…"):
        try:
            ss.mem_measure = presenter.measurement(desc, ec, settings, progress=bar.progress,
                                                   actor=actor())
        except UserError as exc:
            st.error(str(exc))
res = ss.mem_measure
if res:
    st.caption(f"Last measurement: {' · '.join(map(str, res['key']))}")
    if res.get("measured") is None:
        st.warning(res["reason"])
    else:
        st.dataframe(pd.DataFrame(presenter.measurement_rows(res["comparison"])),
                     hide_index=True, key="mem_compare")
        for note in res["measured"]["notes"]:
            st.caption(note)
        with st.expander("Raw measurement"):
            st.code(json.dumps(res["measured"], indent=1), language="json")
