"""While the server trains the first-start adapter (core.finetune.first_adapter): say so, with
its progress in the shared job panel, on the pages a newcomer opens first (Home, Ask & compare).
"""

from __future__ import annotations

import streamlit as st

from app_pages._job_panel import job_panel
from core import st_cache
from core.finetune import first_adapter
from core.presenters.compare import first_adapter_note


def first_adapter_panel(place: str) -> bool:
    """Show the first-start training while it runs (or its error); True while it runs."""
    job = first_adapter.current()
    if job is None:
        return False
    if job.running:
        st.info(first_adapter_note(first_adapter.NAME, st_cache.settings().first_adapter_minutes))
    job_panel("finetune", label="Default adapter", place=place, show_loss=False,
              error_prefix="The first-start adapter was not trained: ",
              cancel_note="Stops after the current micro-batch; train one on the Fine-tune "
                          "page whenever you like.")
    return job.running
