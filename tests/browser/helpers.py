"""Small page-object helpers for the compare page, shared by the flow and concurrency tests.

They read what a user sees (column headings, rendered answers, source expanders) and never
reach into Streamlit's session state.
"""

from __future__ import annotations

import re

ASK_TIMEOUT = 300_000  # first question: generator conversion + default KB build on 2 cores


def column(pg, label: str):
    """The answer column whose heading is exactly ``label`` ("Base", "RAG", ...)."""
    heading = pg.get_by_role("heading", name=label, exact=True)
    return pg.get_by_test_id("stColumn").filter(has=heading).last


def wait_answers(pg, labels=("Base", "RAG"), timeout: float = ASK_TIMEOUT) -> None:
    """Wait until every column in ``labels`` shows its latency caption (answer finished)."""
    for label in labels:
        column(pg, label).get_by_text("Latency").wait_for(timeout=timeout)


def answer_text(pg, label: str) -> str:
    """The rendered answer of one column (the first markdown block under its heading)."""
    return column(pg, label).get_by_test_id("stMarkdown").first.inner_text().strip()


def words(text: str) -> list[str]:
    """Word tokens, so markdown rendering (lists, emphasis) does not change a comparison.

    Example: ``words("1. **Skellwick** Haven.")`` is ``['1', 'skellwick', 'haven']``.
    """
    return re.findall(r"\w+", text.lower())



def selectbox(pg, label: str, scope=None):
    """The selectbox labelled exactly ``label`` (inside ``scope``, default the whole page)."""
    return (scope or pg).get_by_test_id("stSelectbox").filter(
        has=pg.get_by_text(label, exact=True)).first


def selected(pg, label: str, scope=None) -> str:
    """The value the selectbox labelled ``label`` shows (its combobox input's value)."""
    return selectbox(pg, label, scope).get_by_role("combobox").input_value()


def choose(pg, label: str, option: str, scope=None) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` the way a user does: open its
    list, click the option. The caller waits for the rerun (``wait_idle``)."""
    selectbox(pg, label, scope).get_by_role("combobox").click()
    pg.get_by_role("option", name=option, exact=True).click()
    pg.wait_for_timeout(300)  # let the rerun start
    assert selected(pg, label, scope) == option


def table_rows(frame) -> list[list[str]]:
    """The cells of an ``st.dataframe`` (heading row first), read from the accessible table
    that the canvas-drawn grid keeps in the page for screen readers (visible rows only)."""
    frame.locator("table").first.wait_for(state="attached")
    return [[c.strip() for c in row.locator("th, td").all_text_contents()]
            for row in frame.locator("table tr").all()]
