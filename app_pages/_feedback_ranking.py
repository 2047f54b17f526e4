"""The Feedback dashboard's arena-style ranking: Bradley-Terry ratings on the Elo scale with
bootstrap 95 % intervals (:mod:`core.feedback.ranking`), cached briefly per set of games.
The leading underscore keeps this module out of the page list."""

from __future__ import annotations

import streamlit as st

from core.feedback.ranking import games_from_feedback, ratings
from core.presenters import feedback as presenter


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def _ratings(games: tuple) -> list[dict]:
    return ratings(list(games), rounds=500)


def ranking_section(records, prefs, key) -> None:
    st.subheader("Ranking (Bradley-Terry, Elo scale)")
    games = games_from_feedback(records, prefs, key)
    if not games:
        st.caption("No comparisons yet: A/B preferences, or 👍 and 👎 on answers to the same "
                   "question from different groups.")
        return
    rows = _ratings(tuple(games))
    st.dataframe(presenter.ranking_rows(rows), hide_index=True, width="stretch",
                 column_config={"n": st.column_config.NumberColumn("games")})
    st.caption(presenter.ranking_caption(len(games)))
