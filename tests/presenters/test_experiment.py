"""The Experiment page's presenter: the review table round-trips the questions (edits, drops,
choices and aliases split on ' | '), and the result tables carry the result's numbers."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.experiment.questions import derive_questions, rows
from core.finetune.data import SourceChunk
from core.presenters import experiment as presenter
from tests.experiment.conftest import DOCS
from tests.experiment.sample import sample_result


def derived():
    return rows(derive_questions([SourceChunk(n, t) for n, t in DOCS.items()],
                                 max_questions=4))


def test_review_table_round_trips_edits_and_drops():
    frame = presenter.questions_frame(derived())
    assert list(frame.columns[:8]) == presenter.EDITOR_COLUMNS and not frame["drop"].any()
    frame.loc[0, "drop"] = True
    frame.loc[1, "choices"] = f"{frame.loc[1, 'answer']} | one | two"
    items = presenter.edited_items(frame)
    assert len(items) == 3 and items[0].choices[1:] == ("one", "two")
    assert all(i.extra["sentence"] for i in items)
    frame.loc[2, "answer"] = "not among the choices"
    with pytest.raises(UserError, match="none of the choices"):
        presenter.edited_items(frame)


def test_result_tables_carry_the_numbers():
    result = sample_result()
    modes = presenter.modes_frame(result)
    rag = modes[modes["mode"] == "rag"].iloc[0]
    assert rag["answer hit"] == 0.6 and rag["95 % CI"] == "[0.45, 0.75]"
    chart = presenter.chart_frame(result)
    assert chart["plus"].round(2).tolist()[2] == 0.15
    costs = presenter.costs_frame(result)
    assert list(costs["int8 MiB"]) == [180.0] * 5
    assert "8.0 min, 300 tokens/s" in presenter.training_line(result)
    assert presenter.freshness_frame(result)["gave the new value"].tolist() == [True]
    assert presenter.report_name(result) == "experiment-20260101-000000-abcdef.html"
