"""Home: what each page is for, and the system status (device, models, where data lives)."""

import pandas as pd
import streamlit as st

from core import st_cache
from core.errors import UserError
from core.status import system_status

PAGE_GUIDE = [
    ("Ask & compare", "One question, up to four answers: base model, RAG over your "
     "documents, a LoRA fine-tuned adapter, and adapter + RAG, with sources and latency."),
    ("Knowledge bases", "Upload or index documents into LanceDB; inspect, add, delete."),
    ("Fine-tune (LoRA)", "Train a LoRA adapter on a knowledge base and watch the loss fall."),
    ("Evaluate", "Exact match, F1, multiple-choice accuracy and retrieval scores per mode."),
    ("Tweet emotions", "Every preprocessing step made visible; classical models vs a "
     "fine-tuned transformer; imbalance and emotion grouping handled."),
    ("Feedback dashboard", "Thumbs up/down kept as reward signals, exported for KTO/DPO, "
     "and used to train the model."),
    ("GPU memory", "Will a model fit your GPU at FP32…INT4, for inference and training? "
     "Estimated with cited formulas and checked against measurement."),
]

st.title(":material/science: NLP Lab")
st.caption("See, side by side and measured, what modern NLP techniques actually do.")

for name, blurb in PAGE_GUIDE:
    st.markdown(f"**{name}**: {blurb}")

st.divider()
st.subheader("System status")
try:
    settings = st_cache.settings()
except UserError as exc:
    st.error(f"Settings problem: {exc}")
    st.stop()

load = st.button("Load all models now", help="Loads the embedder and generator into this "
                 "server process (the first load converts SmolLM2 from GGUF, ~25 s).")
if load:
    with st.spinner("Loading models…"):
        try:
            st_cache.get_embedder()
            st_cache.get_generator()
        except UserError as exc:
            st.error(str(exc))
status = system_status(settings, load=False)
device = status["device"]
cols = st.columns(3)
cols[0].metric("Device", f"{device['name']}", help=f"torch {device['torch']}")
cols[1].metric("Compute dtype", device["dtype"])
if "gpu_memory_total_gb" in device:
    cols[2].metric("GPU memory", f"{device['gpu_memory_total_gb']} GB",
                   f"{device['gpu_memory_free_gb']} GB free")
else:
    cols[2].metric("GPU memory", "no GPU")

rows = [{"role": m["role"], "model": m["spec"], "source": m.get("source", ""),
         "setting": m["env"], "loaded in this process": "yes" if m.get("loaded") else "no",
         "problem": m.get("error", "")} for m in status["models"]]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(f"Data directory: `{status['data_dir']}` · LanceDB: `{status['lancedb']}` · "
           f"Feedback DB: `{status['feedback_db']}`")
with st.expander("Versions"):
    st.json(status["versions"])
