"""Thumbs up/down and "A vs B" widgets that write to the feedback store (issue #6).

Usage from a page (keep the answers themselves in ``st.session_state`` so reruns keep them):

    from pages._feedback_widget import preference_widget, rating_widget, record_output_once

    fields = dict(page="compare", mode="rag", prompt=question, output=answer.text,
                  model_id=gen.model_id, retrieved_ids=ids, latency_seconds=answer.seconds)
    rating_widget(f"{run_id}:rag", **fields)          # thumbs; comment box after thumbs-down
    a = record_output_once(f"{run_id}:base", **base_fields)
    b = record_output_once(f"{run_id}:rag", **fields)
    preference_widget(f"{run_id}:pref", a, b)          # "A better" / "B better" / "tie"

``answer_key`` must identify one answer (e.g. run id + column): the record id is kept in
``st.session_state`` under it, so changing a rating UPDATES the same record. Failed writes are
shown with ``st.error``; nothing is swallowed. The leading underscore keeps this module out of
the page list.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import UserError
from core.st_cache import get_feedback_store

_IDS = "_feedback_ids"          # answer_key -> output id
_LAST = "_feedback_last_rating"  # answer_key -> last rating written
_PREFS = "_feedback_pref_ids"    # widget key -> preference id
CHOICE_LABELS = {"A is better": "a", "B is better": "b", "Tie": "tie"}


def _session_id() -> str:
    return str(st.session_state.get("session_id", "anonymous"))


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


def rating_widget(answer_key: str, **fields: Any) -> int | None:
    """Thumbs for one answer; returns its record id once stored (None before the first rating).

    ``fields`` are :meth:`SQLFeedbackStore.record_output` arguments (page, mode, prompt, output,
    model_id, adapter_id, retrieved_ids, latency_seconds, extra); ``session_id`` defaults to the
    app's session id. The record is created on the first rating unless
    :func:`record_output_once` already stored it.
    """
    ids = st.session_state.setdefault(_IDS, {})
    last = st.session_state.setdefault(_LAST, {})
    value = st.feedback("thumbs", key=f"fb_thumbs_{answer_key}")
    rating = None if value is None else ("up" if value == 1 else "down")
    record_id = ids.get(answer_key)
    if rating != last.get(answer_key, None):
        try:
            if record_id is None and rating is not None:
                fields.setdefault("session_id", _session_id())
                record_id = get_feedback_store().record_output(rating=rating, **fields)
                ids[answer_key] = record_id
            elif record_id is not None:
                # A comment belongs to a thumbs-down: clear it when the rating changes away.
                comment = None if rating == "down" else ""
                get_feedback_store().set_rating(record_id, rating, comment=comment)
            last[answer_key] = rating
        except UserError as exc:
            st.error(f"Your rating was NOT saved: {exc}")
    if rating == "down" and record_id is not None:
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


def preference_widget(key: str, a_id: int | None, b_id: int | None) -> int | None:
    """"A is better" / "B is better" / "Tie" for two stored answers; one record, updated."""
    if a_id is None or b_id is None:
        return None
    prefs = st.session_state.setdefault(_PREFS, {})
    label = st.radio("Which answer is better?", list(CHOICE_LABELS), index=None,
                     horizontal=True, key=f"fb_pref_{key}")
    if label is None:
        return prefs.get(key)
    choice = CHOICE_LABELS[label]
    saved = st.session_state.setdefault("_feedback_pref_choice", {})
    if saved.get(key) != choice:
        try:
            store = get_feedback_store()
            if key in prefs:
                store.update_preference(prefs[key], choice)
            else:
                prefs[key] = store.record_preference(a_id, b_id, choice,
                                                     session_id=_session_id())
            saved[key] = choice
        except UserError as exc:
            st.error(f"Your preference was NOT saved: {exc}")
    return prefs.get(key)
