"""Home: what each page is for, and the system status (device, models, where data lives)."""

import pandas as pd
import streamlit as st

from app_pages._first_adapter import first_adapter_panel
from core import st_cache
from core.errors import UserError
from core.presenters.home import LOAD_HELP, PAGE_GUIDE
from core.status import load_report, model_rows, system_status

MODEL_COLUMNS = {  # pixel widths that fit beside the sidebar; long sources wrap
    "role": st.column_config.TextColumn(width=85),
    "in memory": st.column_config.TextColumn(width=125),
    "last load (s)": st.column_config.NumberColumn(width=95, format="%.1f", help="Measured "
                                                   "time of the last real load in this process"),
    "model": st.column_config.TextColumn(width=200),
    "source": st.column_config.TextColumn(width=240),
    "setting": st.column_config.TextColumn(width=190),
}

st.title(":material/science: NLP Lab")
st.caption("See, side by side and measured, what modern NLP techniques actually do.")

for name, blurb in PAGE_GUIDE:
    st.markdown(f"**{name}**: {blurb}")

first_adapter_panel("home")

st.divider()
st.subheader("System status")
try:
    settings = st_cache.settings()
except UserError as exc:
    st.error(f"Settings problem: {exc}")
    st.stop()

if st.button("Load all models now", help=LOAD_HELP):
    with st.spinner("Loading models…"):
        ok, report = load_report(system_status(settings, load=True)["models"])
    if ok:
        st.success(report)
    else:
        st.error(report)
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

st.dataframe(pd.DataFrame(model_rows(status["models"])), hide_index=True, width="stretch",
             row_height=72, column_config=MODEL_COLUMNS, placeholder="not yet")
for m in status["models"]:
    if m.get("error"):
        st.error(f"{m['role']}: {m['error']}")
st.caption(f"Data directory: `{status['data_dir']}` · LanceDB: `{status['lancedb']}` · "
           f"Feedback DB: `{status['feedback_db']}`")
with st.expander("Versions"):
    st.json(status["versions"])
