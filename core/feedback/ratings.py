"""What a rating click writes: thumbs, "A vs B" preferences and batch-table ratings.

The store-side half of ``app_pages/_feedback_widget.py``: turning a widget value into a rating,
creating or updating the one record an answer owns, and knowing which rows of a rated table
are new or changed. Plain Python over a :class:`core.feedback.store.SQLFeedbackStore` (no
Streamlit); the widgets, their keys and when they write (``on_change`` callbacks only) stay on
the page side.

Example (a table row is known by model, position, prompt and output, not by position alone):
    >>> row_key({"model_id": "emotion:svc", "prompt": "so sad", "output": "sadness"}, 1)
    'emotion:svc\\x001\\x00so sad\\x00sadness'
    >>> changed_rows({"k": (7, "up")}, {"k": ("up", {}), "n": ("down", {})})
    {'n': ('down', {})}
"""

from __future__ import annotations

from typing import Any

CHOICE_LABELS = {"A is better": "a", "B is better": "b", "Tie": "tie"}
THUMBS = {"up": 1, "down": 0}    # st.feedback("thumbs") values
MARKS = {"up": "👍", "down": "👎"}  # the batch table's feedback column


def thumbs_rating(value: int | None) -> str | None:
    """An ``st.feedback("thumbs")`` value as a rating. Example: 1 -> 'up', 0 -> 'down'."""
    return None if value is None else ("up" if value == THUMBS["up"] else "down")


def record_once(store, ids: dict[str, int], key: str, fields: dict[str, Any]) -> int:
    """Store answer ``key`` unless ``ids`` ({answer key: record id}) has it; its record id."""
    if key not in ids:
        ids[key] = store.record_output(**fields)
    return ids[key]


def rate(store, ids: dict[str, int], key: str, rating: str | None,
         fields: dict[str, Any]) -> int | None:
    """Store a thumbs click on answer ``key``; ``ids`` ({answer key: record id}) is updated.

    The first rating creates the record (``fields`` are ``record_output`` arguments); later
    ones update it. A comment belongs to a thumbs-down, so a change away from "down" clears it
    (``comment=""``) and "down" keeps it (``comment=None``). Un-clicking before any record
    exists writes nothing and returns None.
    """
    if key not in ids:
        if rating is None:
            return None
        ids[key] = store.record_output(rating=rating, **fields)
    else:
        store.set_rating(ids[key], rating, comment=None if rating == "down" else "")
    return ids[key]


def prefer(store, prefs: dict[str, int], key: str, a_id: int, b_id: int, label: str,
           session_id: str) -> int:
    """Store an "A is better" / "B is better" / "Tie" click: one record per ``key``, updated;
    ``prefs`` ({widget key: preference id}) is updated."""
    if key in prefs:
        store.update_preference(prefs[key], CHOICE_LABELS[label])
    else:
        prefs[key] = store.record_preference(a_id, b_id, CHOICE_LABELS[label],
                                             session_id=session_id)
    return prefs[key]


def row_key(fields: dict[str, Any], index: Any) -> str:
    """The key of one table row: model, position, prompt and output joined by NUL."""
    return "\x00".join(map(str, (fields.get("model_id"), index, fields["prompt"],
                                 fields["output"])))


def table_rows(index, fields) -> tuple[dict[Any, dict[str, Any]], dict[Any, str]]:
    """({row: record_output fields}, {row: row key}) of a table's ``index``."""
    rows = {i: fields(i) for i in index}
    return rows, {i: row_key(f, i) for i, f in rows.items()}


def table_marks(saved: dict[str, tuple[int, str]], keys: dict[Any, str]) -> list[str | None]:
    """The feedback column of a re-created table, in row order: each row's saved 👍/👎, None
    if unrated. Example: table_marks({"k": (3, "up")}, {0: "x", 1: "k"}) -> [None, '👍']."""
    return [MARKS[saved[k][1]] if k in saved else None for k in keys.values()]


def marked_rows(marks: dict[Any, Any], keys: dict[Any, str],
                fields: dict[Any, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """{row key: (rating, fields)} of the rows whose feedback cell holds 👍 or 👎."""
    by_mark = {mark: rating for rating, mark in MARKS.items()}
    return {keys[i]: (by_mark[m], fields[i]) for i, m in marks.items() if m in by_mark}


def changed_rows(saved: dict[str, tuple[int, str]],
                 rows: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict]]:
    """The rows of ``rows`` that are new or whose rating differs from the saved one."""
    return {k: v for k, v in rows.items() if k not in saved or saved[k][1] != v[0]}


def save_batch_ratings(store, saved: dict[str, tuple[int, str]],
                       rows: dict[str, tuple[str, dict[str, Any]]], session_id: str) -> int:
    """Store ``rows`` ({row key: ("up"|"down", record_output fields)}); returns writes made.

    ``saved`` maps row keys to (record id, rating) and is updated in place: a row saved before
    is updated only if its rating changed, a new row is recorded and added.
    """
    todo = changed_rows(saved, rows)
    for row, (rating, fields) in todo.items():
        if row in saved:
            store.set_rating(saved[row][0], rating)
            saved[row] = (saved[row][0], rating)
        else:
            record = store.record_output(rating=rating, **{"session_id": session_id, **fields})
            saved[row] = (record, rating)
    return len(todo)
