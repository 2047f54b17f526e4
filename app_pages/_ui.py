"""Small display helpers shared by pages: a bar chart in one call, UserErrors as one line.

The leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from contextlib import contextmanager

import plotly.express as px
import streamlit as st

from core.errors import UserError


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
