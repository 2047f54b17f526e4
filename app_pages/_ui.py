"""Small display helpers shared by pages: a bar chart in one call, UserErrors as one line, the
knowledge bases' names (or why there are none).

The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from contextlib import contextmanager

import plotly.express as px
import streamlit as st

from core import st_cache
from core.errors import UserError

NO_KB_YET = ("No knowledge base yet: open **Ask & compare** (it builds the default one) or "
             "build one on the **Knowledge bases** page.")


def bar(frame, key: str, where=st, **kw) -> None:
    """A bar chart of (label, count) rows unless ``x``/``y`` say otherwise."""
    where.plotly_chart(px.bar(frame, **{"x": "label", "y": "count", **kw}), key=key)


@contextmanager
def shown_errors():
    """Show a UserError raised in the block as one error line; the rest of the page runs."""
    try:
        yield
    except UserError as exc:
        st.error(str(exc))


def kb_names(*, required: bool = True, hint: bool = True) -> list[str]:
    """The knowledge bases' names. A store that cannot be opened stops the page with its error;
    with none yet, the page says how to get one (``hint``) and stops when ``required``."""
    try:
        names = st_cache.get_rag_store().names()
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    if not names and hint:
        st.info(NO_KB_YET)
    if not names and required:
        st.stop()
    return names
