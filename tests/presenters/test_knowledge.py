"""The Knowledge page's presenter (core.presenters.knowledge)."""

from __future__ import annotations

import pytest

from core.presenters import knowledge as presenter


@pytest.mark.parametrize("existing, name", [([], "default"), (["ops"], "default"),
                                            (["default", "ops"], "my-docs")])
def test_the_default_base_is_offered_until_it_exists(existing, name):
    assert presenter.suggested_name(existing) == name


def test_delete_messages_name_what_went():
    said = presenter.deleted_document_message("a.md", 3, "ops")
    assert said == "Deleted a.md (3 chunks) from ops."
    assert presenter.deleted_kb_message("ops") == "Deleted knowledge base ops."
