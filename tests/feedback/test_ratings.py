"""What a rating click writes (core.feedback.ratings), on a real SQLite store."""

from __future__ import annotations

from core.feedback import ratings

FIELDS = {"session_id": "s1", "page": "compare", "mode": "rag", "prompt": "Q?", "output": "A"}


def test_thumbs_values_map_to_ratings():
    assert [ratings.thumbs_rating(v) for v in (1, 0, None)] == ["up", "down", None]


def test_first_rating_creates_later_ones_update_and_clear_the_comment(store):
    ids: dict[str, int] = {}
    assert ratings.rate(store, ids, "k", None, FIELDS) is None and ids == {}  # nothing yet
    rid = ratings.rate(store, ids, "k", "down", FIELDS)
    assert ids == {"k": rid}
    store.set_rating(rid, "down", comment="made up")
    assert ratings.rate(store, ids, "k", "down", FIELDS) == rid
    assert store.get_output(rid).comment == "made up"   # still a thumbs-down: kept
    ratings.rate(store, ids, "k", "up", FIELDS)
    record = store.get_output(rid)
    assert record.rating == "up" and not record.comment and len(store.list_outputs()) == 1


def test_record_once_stores_an_answer_once(store):
    ids: dict[str, int] = {}
    first = ratings.record_once(store, ids, "k", FIELDS)
    assert ratings.record_once(store, ids, "k", FIELDS) == first
    assert len(store.list_outputs()) == 1 and store.get_output(first).rating is None


def test_a_preference_is_one_record_updated(store):
    a, b = (store.record_output(**{**FIELDS, "output": o}) for o in ("A", "B"))
    prefs: dict[str, int] = {}
    pid = ratings.prefer(store, prefs, "p", a, b, "A is better", "s1")
    assert ratings.prefer(store, prefs, "p", a, b, "Tie", "s1") == pid
    assert [p.choice for p in store.list_preferences()] == ["tie"]


def test_table_rows_keys_and_marks():
    fields = {0: {"prompt": "so happy", "output": "joy", "model_id": "m"},
              1: {"prompt": "so sad", "output": "sadness", "model_id": "m"}}
    rows, keys = ratings.table_rows([0, 1], fields.get)
    assert rows == fields and keys[1] == "m\x001\x00so sad\x00sadness"
    assert ratings.table_marks({keys[1]: (9, "down")}, keys) == [None, "👎"]
    marked = ratings.marked_rows({0: None, 1: "👍"}, keys, rows)
    assert marked == {keys[1]: ("up", fields[1])}


def test_save_batch_ratings_writes_only_new_or_changed_rows(store):
    saved: dict[str, tuple[int, str]] = {}
    rows = {"r1": ("up", {k: v for k, v in FIELDS.items() if k != "session_id"}),
            "r2": ("down", {**FIELDS, "prompt": "Q2"})}
    rows["r2"][1].pop("session_id")
    assert ratings.save_batch_ratings(store, saved, rows, "s1") == 2
    assert ratings.changed_rows(saved, rows) == {}
    assert ratings.save_batch_ratings(store, saved, rows, "s1") == 0
    rows["r1"] = ("down", rows["r1"][1])
    assert ratings.save_batch_ratings(store, saved, rows, "s1") == 1
    assert [(r.prompt, r.rating, r.session_id) for r in store.list_outputs()] == [
        ("Q?", "down", "s1"), ("Q2", "down", "s1")]
