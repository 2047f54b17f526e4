"""The one store-name rule (core/names.py): refused, not rewritten; errors name value and rule."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.names import check_name, is_valid_name, suggest_name

HOSTILE = ["../../etc/passwd", "a/b", "a\\b", "a\x00b", "", "   ", "x" * 65, ".hidden", "a.b",
           "é", "My kb", "UPPER", "<b>x</b>", "name\n2"]


@pytest.mark.parametrize("name", ["a", "orbis-v2", "kb_1", "x" * 64, "0-9_"])
def test_good_names_pass_unchanged(name):
    assert check_name(name) == name and is_valid_name(name)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("what", ["adapter", "knowledge base", "model"])
def test_bad_names_are_refused_with_one_line_naming_value_and_rule(name, what):
    with pytest.raises(UserError) as err:
        check_name(name, what)
    message = str(err.value)
    assert message.startswith(f"{what} name {name[:77]!r}")
    assert "not allowed" in message and "1-64 characters from a-z, 0-9" in message
    assert "\n" not in message and not is_valid_name(name)


def test_non_strings_are_refused():
    with pytest.raises(UserError):
        check_name(None)


@pytest.mark.parametrize(("text", "expected"), [("Orbis V2", "orbis-v2"), (" a  b ", "a-b"),
                                                ("kb_1", "kb_1")])
def test_suggest_lowercases_and_joins_words(text, expected):
    assert suggest_name(text) == expected


@pytest.mark.parametrize("text", ["../etc", "a.b", "é", "", "a/b"])
def test_suggest_still_refuses_what_it_cannot_fix(text):
    with pytest.raises(UserError, match="adapter name"):
        suggest_name(text)
