"""Thumbs up/down, "A vs B" and batch-table ratings that write to the feedback store.

Usage from a page (keep the answers themselves in ``st.session_state`` so reruns keep them):

    from pages._feedback_widget import preference_widget, rating_widget, record_output_once

    fields = dict(page="compare", mode="rag", prompt=question, output=answer.text,
                  model_id=gen.model_id, retrieved_ids=ids, latency_seconds=answer.seconds)
    rating_widget(f"{run_id}:rag", **fields)          # thumbs; comment box after thumbs-down
    a = record_output_once(f"{run_id}:base", **base_fields)
    b = record_output_once(f"{run_id}:rag", **fields)
    preference_widget(f"{run_id}:pref", a, b)          # "A better" / "B better" / "tie"

``answer_key`` must identify one answer (e.g. run id + column): the record id is kept in
``st.session_state`` under it, so changing a rating UPDATES the same record.

A stored rating changes only by a click: the store is written from the widgets' ``on_change``
callbacks, never by comparing values on a rerun. Streamlit forgets a widget's value when its
page is left, so a re-created widget is seeded from what was stored and shows the saved
thumbs (and comment, or A/B choice) instead of coming back empty. Failed writes are shown with
``st.error``; nothing is swallowed. The leading underscore keeps this module out of the page
list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.st_cache import get_feedback_store

_IDS = "_feedback_ids"          # answer_key -> output id
_PREFS = "_feedback_pref_ids"    # widget key -> preference id
_CHOICES = "_feedback_pref_choice"  # widget key -> choice stored for it
_ERRORS = "_feedback_errors"     # widget key -> message of a failed write (shown once)
_BATCH = "_feedback_batch"       # table key -> {row key: (output id, rating)}
CHOICE_LABELS = {"A is better": "a", "B is better": "b", "Tie": "tie"}
THUMBS = {"up": 1, "down": 0}    # st.feedback("thumbs") values
MARKS = {"up": "👍", "down": "👎"}  # the batch table's feedback column


def _session_id() -> str:
    return str(st.session_state.get("session_id", "anonymous"))


def _show_error(key: str) -> None:
    message = st.session_state.setdefault(_ERRORS, {}).pop(key, None)
    if message:
        st.error(message)


def record_output_once(answer_key: str, **fields: Any) -> int | None:
    """Store the answer once per session (later calls return the same id); None on failure."""
    ids = st.session_state.setdefault(_IDS, {})
    if answer_key in ids:
        return ids[answer_key]
    fields.setdefault("session_id", _session_id())
    try:
        ids[answer_key] = get_feedback_store().record_output(**fields)
    except UserError as exc:
        st.error(f"Could not store this answer for feedback: {exc}")
        return None
    return ids[answer_key]


def _on_rate(answer_key: str, fields: dict[str, Any]) -> None:
    """The user clicked a thumb (or un-clicked it): store exactly that."""
    value = st.session_state.get(f"fb_thumbs_{answer_key}")
    rating = None if value is None else ("up" if value == THUMBS["up"] else "down")
    ids = st.session_state.setdefault(_IDS, {})
    try:
        if answer_key not in ids:
            if rating is None:
                return
            ids[answer_key] = get_feedback_store().record_output(
                rating=rating, **{"session_id": _session_id(), **fields})
        else:
            # A comment belongs to a thumbs-down: clear it when the rating changes away.
            get_feedback_store().set_rating(ids[answer_key], rating,
                                            comment=None if rating == "down" else "")
    except UserError as exc:
        st.session_state.setdefault(_ERRORS, {})[answer_key] = \
            f"Your rating was NOT saved: {exc}"


def _seed_from_store(answer_key: str, record_id: int | None) -> None:
    """Give a re-created thumbs widget (and its comment box) the stored values."""
    thumbs, comment = f"fb_thumbs_{answer_key}", f"fb_comment_{answer_key}"
    if record_id is None or thumbs in st.session_state:
        return
    try:
        record = get_feedback_store().get_output(record_id)
    except UserError as exc:
        st.error(f"Could not read your saved rating: {exc}")
        return
    st.session_state.setdefault(thumbs, THUMBS.get(record.rating or ""))
    if record.comment:
        st.session_state.setdefault(comment, record.comment)


def rating_widget(answer_key: str, **fields: Any) -> int | None:
    """Thumbs for one answer; returns its record id once stored (None before the first rating).

    ``fields`` are :meth:`SQLFeedbackStore.record_output` arguments (page, mode, prompt, output,
    model_id, adapter_id, retrieved_ids, latency_seconds, extra); ``session_id`` defaults to the
    app's session id. The record is created on the first rating unless
    :func:`record_output_once` already stored it.
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
    prefs, choices = st.session_state.setdefault(_PREFS, {}), st.session_state[_CHOICES]
    try:
        store = get_feedback_store()
        if key in prefs:
            store.update_preference(prefs[key], CHOICE_LABELS[label])
        else:
            prefs[key] = store.record_preference(a_id, b_id, CHOICE_LABELS[label],
                                                 session_id=_session_id())
        choices[key] = label
    except UserError as exc:
        st.session_state.setdefault(_ERRORS, {})[key] = f"Your preference was NOT saved: {exc}"


def preference_widget(key: str, a_id: int | None, b_id: int | None) -> int | None:
    """"A is better" / "B is better" / "Tie" for two stored answers; one record, updated."""
    if a_id is None or b_id is None:
        return None
    choices = st.session_state.setdefault(_CHOICES, {})  # what this session stored, by label
    if key in choices:
        st.session_state.setdefault(f"fb_pref_{key}", choices[key])
    st.radio("Which answer is better?", list(CHOICE_LABELS), index=None, horizontal=True,
             key=f"fb_pref_{key}", on_change=_on_prefer, args=(key, a_id, b_id))
    _show_error(key)
    return st.session_state.get(_PREFS, {}).get(key)


def save_batch_ratings(saved: dict[str, tuple[int, str]],
                       rows: dict[str, tuple[str, dict[str, Any]]]) -> int:
    """Store ``rows`` ({row key: ("up"|"down", record_output fields)}); returns writes made.

    ``saved`` maps row keys to (record id, rating): a row saved before is updated only if its
    rating changed, a new row is recorded and added to ``saved``.
    """
    store, written = get_feedback_store(), 0
    for row, (rating, fields) in rows.items():
        if row in saved and saved[row][1] == rating:
            continue
        if row in saved:
            store.set_rating(saved[row][0], rating)
        else:
            fields = {"session_id": _session_id(), **fields}
            saved[row] = (store.record_output(rating=rating, **fields), rating)
        saved[row], written = (saved[row][0], rating), written + 1
    return written


def batch_ratings_editor(key: str, df: pd.DataFrame,
                         fields: Callable[[Any], dict[str, Any]]) -> None:
    """The table plus an editable 👍/👎 ``feedback`` column and a "Save batch ratings" button.

    ``fields(index)`` gives the :meth:`SQLFeedbackStore.record_output` arguments of a row. A
    row is known by model, prompt and output (not by position alone), so a saved row shows its
    stored rating when the table is re-created and a changed rating updates its record.
    """
    saved = st.session_state.setdefault(_BATCH, {}).setdefault(key, {})
    rows = {i: fields(i) for i in df.index}
    names = {i: "\x00".join(map(str, (f.get("model_id"), i, f["prompt"], f["output"])))
             for i, f in rows.items()}
    marks = [MARKS[saved[names[i]][1]] if names[i] in saved else None for i in df.index]
    edited = st.data_editor(df.assign(feedback=marks), key=f"{key}_table", column_config={
        "feedback": st.column_config.SelectboxColumn(options=list(MARKS.values()))},
        disabled=list(df.columns))
    if st.button("Save batch ratings", key=f"{key}_rate"):
        by_mark = {mark: rating for rating, mark in MARKS.items()}
        rated = {names[i]: (by_mark[m], rows[i]) for i, m in edited["feedback"].items()
                 if m in by_mark}
        try:
            written = save_batch_ratings(saved, rated)
            st.success(f"{len(rated)} ratings saved ({written} new or changed)")
        except UserError as exc:
            st.error(f"Ratings NOT saved: {exc}")
