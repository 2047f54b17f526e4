"""Thumbs up/down, "A vs B" and batch-table ratings that write to the feedback store.

Usage (``fields``: ``record_output`` arguments: page, mode, prompt, output, model_id, ...):

    rating_widget(f"{run_id}:rag", **fields)          # thumbs; comment box after thumbs-down
    a, b = (record_output_once(f"{run_id}:{m}", **fields_of[m]) for m in ("base", "rag"))
    preference_widget(f"{run_id}:pref", a, b)          # "A better" / "B better" / "tie"

``answer_key`` identifies one answer (run id + column); its record id is kept in
``st.session_state`` under it, so changing a rating UPDATES the same record. A stored rating
changes only by a click: the store is written (:mod:`core.feedback.ratings`) from the widgets'
``on_change`` callbacks, never by comparing values on a rerun. Streamlit forgets a widget's
value when its page is left, so a re-created widget is seeded from the store and shows the
saved thumbs (and comment, or A/B choice). Failed writes are shown with ``st.error``. The
leading underscore keeps this module out of the page list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.feedback import ratings
from core.feedback.ratings import CHOICE_LABELS, MARKS, THUMBS
from core.st_cache import get_feedback_store

_IDS = "_feedback_ids"          # answer_key -> output id
_PREFS = "_feedback_pref_ids"    # widget key -> preference id
_CHOICES = "_feedback_pref_choice"  # widget key -> choice stored for it
_ERRORS = "_feedback_errors"     # widget key -> message of a failed write (shown once)
_BATCH = "_feedback_batch"       # table key -> {row key: (output id, rating)}


def _session_id() -> str:
    return str(st.session_state.get("session_id", "anonymous"))


def _show_error(key: str) -> None:
    if message := st.session_state.setdefault(_ERRORS, {}).pop(key, None):
        st.error(message)


def record_output_once(answer_key: str, **fields: Any) -> int | None:
    """Store the answer once per session (later calls return the same id); None on failure."""
    try:
        return ratings.record_once(get_feedback_store(), st.session_state.setdefault(_IDS, {}),
                                   answer_key, {"session_id": _session_id(), **fields})
    except UserError as exc:
        st.error(f"Could not store this answer for feedback: {exc}")
        return None


def _on_rate(answer_key: str, fields: dict[str, Any]) -> None:
    """The user clicked a thumb (or un-clicked it): store exactly that."""
    rating = ratings.thumbs_rating(st.session_state.get(f"fb_thumbs_{answer_key}"))
    try:
        ratings.rate(get_feedback_store(), st.session_state.setdefault(_IDS, {}), answer_key,
                     rating, {"session_id": _session_id(), **fields})
    except UserError as exc:
        st.session_state.setdefault(_ERRORS, {})[answer_key] = f"Your rating was NOT saved: {exc}"


def _seed_from_store(answer_key: str, record_id: int | None) -> None:
    """Give a re-created thumbs widget (and its comment box) the stored values."""
    if record_id is None or f"fb_thumbs_{answer_key}" in st.session_state:
        return
    try:
        record = get_feedback_store().get_output(record_id)
    except UserError as exc:
        st.error(f"Could not read your saved rating: {exc}")
        return
    st.session_state.setdefault(f"fb_thumbs_{answer_key}", THUMBS.get(record.rating or ""))
    if record.comment:
        st.session_state.setdefault(f"fb_comment_{answer_key}", record.comment)


def rating_widget(answer_key: str, **fields: Any) -> int | None:
    """Thumbs for one answer; returns its record id once stored (None before the first rating).

    ``fields``: ``record_output`` arguments (``session_id`` defaults to the app's). The record
    is created on the first rating unless :func:`record_output_once` already stored it.
    """
    ids = st.session_state.setdefault(_IDS, {})
    _seed_from_store(answer_key, ids.get(answer_key))
    value = st.feedback("thumbs", key=f"fb_thumbs_{answer_key}", on_change=_on_rate,
                        args=(answer_key, fields))
    _show_error(answer_key)
    record_id = ids.get(answer_key)
    if value == THUMBS["down"] and record_id is not None:
        with st.form(key=f"fb_comment_form_{answer_key}", border=False):
            comment = st.text_input("What was wrong? (optional)", max_chars=2000,
                                    key=f"fb_comment_{answer_key}")
            if st.form_submit_button("Save comment"):
                try:
                    get_feedback_store().set_rating(record_id, "down", comment=comment)
                    st.success("Comment saved.")
                except UserError as exc:
                    st.error(f"Your comment was NOT saved: {exc}")
    return record_id


def _on_prefer(key: str, a_id: int, b_id: int) -> None:
    label = st.session_state.get(f"fb_pref_{key}")
    if label is None:
        return
    try:
        ratings.prefer(get_feedback_store(), st.session_state.setdefault(_PREFS, {}), key,
                       a_id, b_id, label, _session_id())
        st.session_state[_CHOICES][key] = label
    except UserError as exc:
        st.session_state.setdefault(_ERRORS, {})[key] = f"Your preference was NOT saved: {exc}"


def preference_widget(key: str, a_id: int | None, b_id: int | None) -> int | None:
    """"A is better" / "B is better" / "Tie" for two stored answers; one record, updated."""
    if a_id is None or b_id is None:
        return None
    if (stored := st.session_state.setdefault(_CHOICES, {}).get(key)) is not None:
        st.session_state.setdefault(f"fb_pref_{key}", stored)  # seeded with what was stored
    st.radio("Which answer is better?", list(CHOICE_LABELS), index=None, horizontal=True,
             key=f"fb_pref_{key}", on_change=_on_prefer, args=(key, a_id, b_id))
    _show_error(key)
    return st.session_state.get(_PREFS, {}).get(key)


def batch_ratings_editor(key: str, df: pd.DataFrame,
                         fields: Callable[[Any], dict[str, Any]]) -> None:
    """The table plus an editable 👍/👎 ``feedback`` column and a "Save batch ratings" button.

    ``fields(index)``: a row's ``record_output`` arguments. A row is known by model, prompt and
    output (:func:`core.feedback.ratings.row_key`), so a re-created table shows the stored
    ratings and a changed rating updates its record.
    """
    saved = st.session_state.setdefault(_BATCH, {}).setdefault(key, {})
    rows, keys = ratings.table_rows(df.index, fields)
    edited = st.data_editor(df.assign(feedback=ratings.table_marks(saved, keys)),
                            key=f"{key}_table", column_config={
        "feedback": st.column_config.SelectboxColumn(options=list(MARKS.values()))},
        disabled=list(df.columns))
    if st.button("Save batch ratings", key=f"{key}_rate"):
        rated = ratings.marked_rows(edited["feedback"].to_dict(), keys, rows)
        try:
            n = ratings.save_batch_ratings(get_feedback_store(), saved, rated, _session_id())
            st.success(f"{len(rated)} ratings saved ({n} new or changed)")
        except UserError as exc:
            st.error(f"Ratings NOT saved: {exc}")
