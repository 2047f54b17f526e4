"""The Fine-tune page's adapter list: the saved adapters, one inspected (loss chart, metadata,
files), its metadata download and a confirmed delete."""

import json

import pandas as pd
import streamlit as st

from app_pages._job_panel import actor, locked, loss_figure
from core.adapters import AdapterRegistry
from core.errors import UserError
from core.presenters import finetune as presenter


def adapters_section(settings) -> None:
    st.subheader("Adapters")
    registry = AdapterRegistry.of(settings)
    rows = registry.list()
    if not rows:
        st.caption("No adapters yet.")
    else:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        pick = st.selectbox("Inspect", [r["name"] for r in rows], key="inspect-adapter")
        if pick:
            try:
                info = registry.inspect(pick)
            except UserError as exc:
                st.error(str(exc))
            else:
                meta = info["metadata"]
                if meta.get("losses"):
                    st.plotly_chart(loss_figure(list(enumerate(meta["losses"], 1)),
                                                f"Training loss of {pick}"), key=f"hist-{pick}")
                st.json({k: v for k, v in meta.items() if k != "losses"}, expanded=False)
                st.caption(presenter.files_caption(info["files"]))
                st.download_button("Download metadata.json", json.dumps(meta, indent=2),
                                   file_name=f"{pick}-metadata.json", mime="application/json")
                sure = st.checkbox(f"Yes, delete {pick}", key=f"confirm-{pick}")
                if st.button("Delete adapter", disabled=locked("delete", sure),
                             key=f"delete-{pick}"):
                    registry.delete(pick, actor=actor())
                    st.toast(f"Deleted {pick}")
                    st.rerun()
