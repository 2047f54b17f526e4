"""The Evaluate page's presenter (core.presenters.evaluate): kept settings and default choices."""

from __future__ import annotations

import pytest

from core.presenters import evaluate as presenter


@pytest.mark.parametrize("options, first, chosen", [
    (["a", "default"], "default", "default"), (["a"], "default", "a"), ([], "default", None),
    (["x", "y"], None, "x")])
def test_preferred_falls_back_to_the_first_option(options, first, chosen):
    assert presenter.preferred(options, first) == chosen


def test_a_kept_value_survives_navigation_unless_it_is_no_longer_valid():
    state = {"kept-ev-kb": "ops"}
    assert presenter.keep(state, "ev-kb", "default", ["default", "ops"].__contains__) == "ev-kb"
    assert state["ev-kb"] == "ops"
    state = {"kept-ev-kb": "gone"}
    presenter.keep(state, "ev-kb", "default", ["default"].__contains__)
    assert state["ev-kb"] == "default"
    presenter.remember(state, ("ev-kb", "ev-limit"))  # ev-limit not drawn: nothing copied
    assert state == {"kept-ev-kb": "default", "ev-kb": "default"}
